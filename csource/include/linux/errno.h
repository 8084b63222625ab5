/* Kernel errno numbers (include/uapi/asm-generic/errno-base.h). */
#ifndef _BSA_LINUX_ERRNO_H
#define _BSA_LINUX_ERRNO_H

#define EPERM		 1
#define ENOENT		 2
#define EIO		 5
#define ENXIO		 6
#define EBADF		 9
#define EAGAIN		11
#define ENOMEM		12
#define EACCES		13
#define EFAULT		14
#define EBUSY		16
#define EEXIST		17
#define ENODEV		19
#define EINVAL		22
#define ENOSPC		28

#endif
