/* File mode bits (include/uapi/linux/stat.h, include/linux/stat.h). */
#ifndef _BSA_LINUX_STAT_H
#define _BSA_LINUX_STAT_H

#define S_IRWXU 00700
#define S_IRUSR 00400
#define S_IWUSR 00200
#define S_IXUSR 00100
#define S_IRGRP 00040
#define S_IWGRP 00020
#define S_IROTH 00004
#define S_IWOTH 00002
#define S_IRUGO (S_IRUSR | S_IRGRP | S_IROTH)

#endif
