/* Traps: argv[1] "div" divides by zero, "unreachable" hits unreachable,
 * "oob" reads far outside linear memory, "deep" recurses without end
 * (call-stack exhaustion). */
#include <stdio.h>
#include <string.h>

static volatile int zero;

static volatile int never = 1 << 30;
static int deep(int n);
/* Called through a pointer: no tail-call elimination, and no locals in
 * linear memory, so the Wasm call stack (not the C shadow stack) runs out. */
static int (*volatile deep_fn)(int) = deep;

static int deep(int n)
{
	if (n == never) /* never true: the recursion has no end */
		return 0;
	return deep_fn(n + 1) + 1;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "div";
	printf("about to trap: %s\n", what);
	fflush(stdout);
	if (!strcmp(what, "div"))
		return 10 / zero;
	if (!strcmp(what, "unreachable"))
		__builtin_trap();
	if (!strcmp(what, "oob"))
		return *(volatile int *)(0x7ffffff0u + (unsigned)zero);
	if (!strcmp(what, "deep"))
		return deep(zero);
	return 0;
}
