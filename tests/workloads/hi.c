/* The smallest useful WASI command: "hi\n" on stdout, exit 0 (no stdio
 * library). bench/exec.sh times its exec by hash against mvm.echo. */
#include <unistd.h>

int main(void)
{
	return write(1, "hi\n", 3) == 3 ? 0 : 1;
}
