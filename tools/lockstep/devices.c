/*
 * Side A's devices: the VMM's own device files on side A's buses, minus
 * those that only make sense with interrupts (keyboard controller) and
 * with the serial port's input tied to /dev/null, so that nothing but the
 * guest drives them. Ports and addresses no device claims read as all
 * ones (the bus default). Side B has no devices: it is handed A's results.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "dev/device.h"
#include "dev/serial.h"
#include "lockstep.h"

static const struct device_type *const lockstep_device_table[] = {
	&post_device,
	&debug_exit_device,
	&acpi_pm_device,
	&rtc_device,
	&fw_cfg_device,
	&testdev_device,
};

#define N_LOCKSTEP_DEVICES (sizeof(lockstep_device_table) / sizeof(lockstep_device_table[0]))

static struct {
	void *state[N_LOCKSTEP_DEVICES];
	struct serial *serial;
	int null_fd;
} devs = { .null_fd = -1 };

/* Returns 0, or -1 with a message. */
int lockstep_devices_init(struct vm *vm)
{
	devs.null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devs.null_fd < 0) {
		fprintf(stderr, "lockstep: cannot open /dev/null: %m\n");
		return -1;
	}
	/* Guest output goes to our stdout, unbuffered, between our own lines. */
	fflush(stdout);
	devs.serial = serial_create(vm, devs.null_fd, STDOUT_FILENO);
	if (!devs.serial)
		return -1;
	for (size_t i = 0; i < N_LOCKSTEP_DEVICES; i++) {
		const struct device_type *t = lockstep_device_table[i];
		if (t->wanted && !t->wanted(vm))
			continue;
		devs.state[i] = t->init(vm);
		if (!devs.state[i]) {
			fprintf(stderr, "lockstep: cannot create the %s device\n", t->name);
			return -1;
		}
	}
	return 0;
}

void lockstep_devices_destroy(void)
{
	for (size_t i = N_LOCKSTEP_DEVICES; i-- > 0;) {
		void *s = devs.state[i];
		if (!s)
			continue;
		if (lockstep_device_table[i]->destroy)
			lockstep_device_table[i]->destroy(s);
		else
			free(s);
		devs.state[i] = NULL;
	}
	if (devs.serial)
		serial_destroy(devs.serial);
	devs.serial = NULL;
	if (devs.null_fd >= 0)
		close(devs.null_fd);
	devs.null_fd = -1;
}
