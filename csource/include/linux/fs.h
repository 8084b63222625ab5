/* The VFS objects a debugfs file is opened and read through. */
#ifndef _BSA_LINUX_FS_H
#define _BSA_LINUX_FS_H

#include <linux/types.h>
#include <linux/stat.h>

struct module;

struct inode {
	void *i_private;
};

struct file {
	void *private_data;
	loff_t f_pos;
};

struct dentry {
	struct inode d_inode;
};

struct file_operations {
	struct module *owner;
	loff_t (*llseek)(struct file *, loff_t, int);
	ssize_t (*read)(struct file *, char __user *, size_t, loff_t *);
	int (*open)(struct inode *, struct file *);
	int (*release)(struct inode *, struct file *);
};

#endif
