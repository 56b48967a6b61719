/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-256 without setup cost, for the worker (daemon/vmm/sha256.c). */
#ifndef MVM_KVM_SHA256_H
#define MVM_KVM_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define KVM_SHA256_LEN 32

void kvm_sha256(const void *data, size_t len, uint8_t out[KVM_SHA256_LEN]);
/* Lowercase hex, NUL terminated. */
void kvm_sha256_hex(const void *data, size_t len, char out[2 * KVM_SHA256_LEN + 1]);

#endif
