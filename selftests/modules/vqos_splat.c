// SPDX-License-Identifier: GPL-2.0
/*
 * vqos_splat - test-only module: proves that the selftests' kernel log scan
 * catches a kernel warning (selftests/test_dmesg_scan.sh). Load it only in
 * the test VM.
 *
 *   insmod vqos_splat.ko          loads quietly: the scan must stay clean
 *   insmod vqos_splat.ko warn=1   WARN_ON() at load time: the scan must fire
 */
#include <linux/bug.h>
#include <linux/module.h>
#include <linux/printk.h>

static bool warn;
module_param(warn, bool, 0444);
MODULE_PARM_DESC(warn, "trigger a WARN_ON() when the module loads");

static int __init vqos_splat_init(void)
{
	pr_info("vqos_splat: loaded (warn=%d)\n", warn);
	WARN_ON(warn);
	return 0;
}

static void __exit vqos_splat_exit(void)
{
	pr_info("vqos_splat: unloaded\n");
}

module_init(vqos_splat_init);
module_exit(vqos_splat_exit);
MODULE_DESCRIPTION("vqos selftest helper: WARN_ON() on demand");
MODULE_LICENSE("GPL");
