#ifndef _BSA_LINUX_DEBUGFS_H
#define _BSA_LINUX_DEBUGFS_H

#include <linux/types.h>
#include <linux/fs.h>

struct dentry *debugfs_create_file(const char *name, umode_t mode,
				   struct dentry *parent, void *data,
				   const struct file_operations *fops);
void debugfs_remove(struct dentry *dentry);
void debugfs_remove_recursive(struct dentry *dentry);

#endif
