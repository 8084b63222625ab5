/* seq_file single_open interface (fs/seq_file.c, the subset in use). */
#ifndef _BS_LINUX_SEQ_FILE_H
#define _BS_LINUX_SEQ_FILE_H

#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/fs.h>

struct seq_file {
	char *buf;
	size_t size;
	size_t count;
	bool filled;
	int (*show)(struct seq_file *, void *);
	void *private;
};

__printf(2, 3) void seq_printf(struct seq_file *m, const char *fmt, ...);
int single_open(struct file *file, int (*show)(struct seq_file *, void *),
		void *data);
int single_release(struct inode *inode, struct file *file);
ssize_t seq_read(struct file *file, char __user *buf, size_t size, loff_t *ppos);
loff_t seq_lseek(struct file *file, loff_t offset, int whence);

#endif
