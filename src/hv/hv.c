/* Choosing a hypervisor for --accel. */
#include <stdio.h>
#include <string.h>

#include "hv.h"

int hv_host_has_hw_virt(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return 0;
	char line[4096];
	int found = 0;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		for (char *t = strtok(line, " \t\n"); t; t = strtok(NULL, " \t\n"))
			if (!strcmp(t, "vmx") || !strcmp(t, "svm"))
				found = 1;
		break;
	}
	fclose(f);
	return found;
}

const struct hv_ops *hv_select(const char *accel)
{
	if (!strcmp(accel, "kvm"))
		return &hv_kvm_ops;
#ifdef RUNVM_HAVE_SOFT
	if (!strcmp(accel, "soft"))
		return &hv_soft_ops;
	/*
	 * Without VT-x/AMD-V a host's /dev/kvm (if any) emulates guest kernel
	 * code instruction by instruction; our own CPU is faster there.
	 */
	if (!strcmp(accel, "auto"))
		return hv_host_has_hw_virt() ? &hv_kvm_ops : &hv_soft_ops;
#else
	if (!strcmp(accel, "soft")) {
		fprintf(stderr, "runvm: this build has no software hypervisor (--accel soft)\n");
		return NULL;
	}
	if (!strcmp(accel, "auto"))
		return &hv_kvm_ops;
#endif
	fprintf(stderr, "runvm: unknown accelerator '%s' (expected kvm, soft or auto)\n", accel);
	return NULL;
}
