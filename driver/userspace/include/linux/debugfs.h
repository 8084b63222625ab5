/* debugfs: the harness records each file the driver creates and removes. */
#ifndef _BS_LINUX_DEBUGFS_H
#define _BS_LINUX_DEBUGFS_H

#include <linux/types.h>
#include <linux/fs.h>

struct dentry *debugfs_create_file(const char *name, umode_t mode,
				   struct dentry *parent, void *data,
				   const struct file_operations *fops);
void debugfs_remove(struct dentry *dentry);
/* A file has nothing below it: the same as debugfs_remove. */
#define debugfs_remove_recursive(dentry) debugfs_remove(dentry)

#endif
