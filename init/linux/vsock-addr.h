/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The AF_VSOCK address, for mvm-init's exec agent (exec-transport.c) and
 * blob client (blob-fetch.c). musl ships no kernel headers: the
 * sockaddr_vm ABI is stable, so it is spelled here, once.
 */
#ifndef MVM_INIT_VSOCK_ADDR_H
#define MVM_INIT_VSOCK_ADDR_H

#include <sys/socket.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#define MVM_VMADDR_CID_ANY 0xffffffffu

typedef struct mvm_sockaddr_vm {
	unsigned short svm_family;
	unsigned short svm_reserved1;
	unsigned int svm_port;
	unsigned int svm_cid;
	unsigned char svm_flags;
	unsigned char svm_zero[3];
} mvm_sockaddr_vm;

/* The address of (cid, port), for bind() or connect() with sizeof(*sa). */
static inline void vsock_addr(mvm_sockaddr_vm *sa, unsigned cid, unsigned port)
{
	*sa = (mvm_sockaddr_vm){ .svm_family = AF_VSOCK, .svm_port = port, .svm_cid = cid };
}

#endif
