/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The supported-CPUID table a worker gives its vCPUs (cpuid.c): mvmd asks
 * KVM once and hands every worker the table in a sealed memfd, which the
 * worker reads back; a worker started without one asks KVM itself.
 */
#ifndef MVM_PROTO_CPUID_H
#define MVM_PROTO_CPUID_H

struct kvm_cpuid2;

/* The table from KVM_GET_SUPPORTED_CPUID on kvm_fd; free() the result. */
int kvm_cpuid_get(int kvm_fd, struct kvm_cpuid2 **ret);
/* The table from a memfd made by kvm_cpuid_memfd(); free() the result. */
int kvm_cpuid_read_fd(int fd, struct kvm_cpuid2 **ret);
/* A sealed memfd with the table, made once per process and cached (the fd
 * stays open for the process's life; callers must not close it). */
int kvm_cpuid_memfd(int kvm_fd);

#endif
