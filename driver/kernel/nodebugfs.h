/*
 * Forced include (first, before compat.h) for a driver build without
 * CONFIG_DEBUG_FS, which vectors with `"config": {"debugfs": false}` need.
 * kconfig.h (included by Kbuild before any -include of ours) defined it;
 * undefining it here makes the driver's own #ifdef CONFIG_DEBUG_FS blocks
 * and <linux/debugfs.h> compile as in a kernel configured without debugfs.
 * Header structures that depend on it (backing_dev_info) are not used by
 * the driver.
 */
#undef CONFIG_DEBUG_FS
