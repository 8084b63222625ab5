// SPDX-License-Identifier: GPL-2.0
/*
 * bsload: the guest's module loader for the in-kernel backend, in place of
 * busybox insmod/rmmod.
 *
 *   bsload load FILE [PARAMS]  exactly one finit_module(2) call, with the
 *                        module parameters PARAMS ("name=value ..."; busybox
 *                        insmod retries a failed finit_module with
 *                        init_module(2), which runs the module's init a
 *                        second time)
 *   bsload unload NAME   exactly one delete_module(2) call, O_NONBLOCK
 *
 * Prints the result as one decimal number, 0 or -errno, on stdout (the
 * kernel returns a failed init's return code as the syscall's errno), and
 * exits 0 on success, 1 on failure, 2 on usage errors.  Static, no libc
 * beyond syscall(2): the initramfs has no shared libraries.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(int argc, char **argv)
{
	long r;
	int fd;

	if (argc != 3 && !(argc == 4 && !strcmp(argv[1], "load")))
		return 2;
	if (!strcmp(argv[1], "load")) {
		fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			printf("%d\n", -errno);
			return 1;
		}
		r = syscall(SYS_finit_module, fd, argc == 4 ? argv[3] : "", 0);
	} else if (!strcmp(argv[1], "unload")) {
		r = syscall(SYS_delete_module, argv[2], O_NONBLOCK);
	} else {
		return 2;
	}
	printf("%d\n", r < 0 ? -errno : 0);
	return r < 0 ? 1 : 0;
}
