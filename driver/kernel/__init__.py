"""In-kernel backend of balloonspec: a real Linux kernel under QEMU TCG runs the
driver module unmodified; a helper module answers its backdoor calls."""
