/* Exported symbols are ordinary globals in one program. */
#ifndef _BS_LINUX_EXPORT_H
#define _BS_LINUX_EXPORT_H

#define __BS_EXPORT extern int bs_export_unused
#define EXPORT_SYMBOL(sym) __BS_EXPORT
#define EXPORT_SYMBOL_GPL(sym) __BS_EXPORT

#endif
