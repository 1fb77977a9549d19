// SPDX-License-Identifier: GPL-2.0
/*
 * virtio_vqos: guest driver for the vqos personality of the vqos host
 * device. This is the skeleton: it binds to the device and reports what
 * the host's telemetry says; the block driver proper comes next.
 */
#include <linux/module.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <uapi/linux/vqos.h>

static int virtio_vqos_probe(struct virtio_device *vdev)
{
	u32 magic = 0;

	if (virtio_has_feature(vdev, VQOS_F_TELEMETRY))
		magic = virtio_cread32(vdev, offsetof(struct vqos_config,
						      telemetry.magic));
	dev_info(&vdev->dev, "vqos device, telemetry %s\n",
		 magic == VQOS_TELEMETRY_MAGIC ? "present" : "absent");
	virtio_device_ready(vdev);
	return 0;
}

static void virtio_vqos_remove(struct virtio_device *vdev)
{
	virtio_reset_device(vdev);
}

static const struct virtio_device_id virtio_vqos_id_table[] = {
	{ VIRTIO_ID_VQOS, VIRTIO_DEV_ANY_ID },
	{ 0 },
};
MODULE_DEVICE_TABLE(virtio, virtio_vqos_id_table);

static const unsigned int virtio_vqos_features[] = {
	VIRTIO_BLK_F_SIZE_MAX, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE,
	VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_MQ, VIRTIO_BLK_F_DISCARD,
	VIRTIO_BLK_F_WRITE_ZEROES, VIRTIO_BLK_F_RO, VQOS_F_TELEMETRY,
};

static struct virtio_driver virtio_vqos_driver = {
	.driver.name		= KBUILD_MODNAME,
	.driver.owner		= THIS_MODULE,
	.id_table		= virtio_vqos_id_table,
	.feature_table		= virtio_vqos_features,
	.feature_table_size	= ARRAY_SIZE(virtio_vqos_features),
	.probe			= virtio_vqos_probe,
	.remove			= virtio_vqos_remove,
};
module_virtio_driver(virtio_vqos_driver);

MODULE_DESCRIPTION("virtio_vqos: guest driver for vqos block devices");
MODULE_LICENSE("GPL");
