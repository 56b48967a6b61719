/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fault points: named places in mvmd where a crash is worth testing
 * (between two writes that must look atomic, after a durable record and
 * before the process it announces). fault_point() does nothing in the
 * binaries that ship; the test build build/bin/mvmd-fault links
 * tests/fault/fault-inject.c in front of the libraries instead, whose
 * fault_point() kills the process with SIGKILL when MVMD_FAULT names the
 * point (docs/hacking.md, "Fault injection"). A point's name is
 * "area.what-just-happened", stable: tests/chaos refers to it.
 */
#ifndef MVM_UTIL_FAULT_H
#define MVM_UTIL_FAULT_H

void fault_point(const char *name);

#endif
