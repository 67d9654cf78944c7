/*
 * vfio-hold UUID|PCI-ADDRESS: take a mediated device, or a PCI function bound to vfio-pci (an
 * SR-IOV VF such as 0000:00:06.1), the way QEMU does, and keep it until killed.
 *
 * Opens the VFIO container and the device's IOMMU group, attaches the group to the container with
 * the type1 IOMMU, and asks for the device fd. While that fd is open the kernel blocks
 * `echo 1 > remove` on the device, which is exactly the situation gvtd must never walk into.
 * Prints "holding" once it has the device, so the caller knows when to go on.
 *
 * vfio-hold --device-only UUID: the same, then closes the container and group fds and keeps only
 * the device fd. The device stays held (the device fd pins its group), but /proc/PID/fd no longer
 * names /dev/vfio/N, so nothing outside can tell it is in use: a remove then really blocks.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static void die(const char *what)
{
    fprintf(stderr, "vfio-hold: %s: %s\n", what, strerror(errno));
    exit(1);
}

int main(int argc, char **argv)
{
    int device_only = argc == 3 && strcmp(argv[1], "--device-only") == 0;
    if (argc != 2 && !device_only) {
        fprintf(stderr, "usage: vfio-hold [--device-only] UUID|PCI-ADDRESS\n");
        return 2;
    }
    const char *uuid = argv[argc - 1];

    char link[PATH_MAX], target[PATH_MAX], group_path[PATH_MAX];
    /* A PCI address has colons; a UUID has none. The device name VFIO wants is the same string. */
    snprintf(link, sizeof link, strchr(uuid, ':') ? "/sys/bus/pci/devices/%s/iommu_group" : "/sys/bus/mdev/devices/%s/iommu_group", uuid);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0) die(link);
    target[n] = '\0';
    snprintf(group_path, sizeof group_path, "/dev/vfio/%s", basename(target));

    int container = open("/dev/vfio/vfio", O_RDWR);
    if (container < 0) die("/dev/vfio/vfio");
    if (ioctl(container, VFIO_GET_API_VERSION) != VFIO_API_VERSION) die("VFIO API version");
    int group = open(group_path, O_RDWR);
    if (group < 0) die(group_path);
    if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0) die("VFIO_GROUP_SET_CONTAINER");
    if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) < 0) die("VFIO_SET_IOMMU");
    int device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, uuid);
    if (device < 0) die("VFIO_GROUP_GET_DEVICE_FD");

    if (device_only && (close(group) < 0 || close(container) < 0)) die("close");

    printf("holding %s (group %s, device fd %d)\n", uuid, group_path, device);
    fflush(stdout);
    for (;;) pause();
}
