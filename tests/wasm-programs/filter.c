/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A stdin filter: reads all of stdin through fd_read, writes it back
 * transformed (ROT13 on letters, line numbers), then a summary, so a
 * round trip through the runner is checkable byte for byte.
 *
 *   filter [upper]   with "upper", also upper-cases the output.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	int upper = argc > 1 && strcmp(argv[1], "upper") == 0;
	unsigned long bytes = 0, lines = 0, letters = 0;
	uint32_t crc = 0xffffffffu;
	int c, at_line_start = 1;

	while ((c = getchar()) != EOF) {
		bytes++;
		crc ^= (unsigned char)c;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
		if (at_line_start) {
			printf("%4lu| ", lines + 1);
			at_line_start = 0;
		}
		if (isalpha(c)) {
			letters++;
			int base = islower(c) ? 'a' : 'A';
			c = base + (c - base + 13) % 26;
			if (upper)
				c = toupper(c);
		}
		putchar(c);
		if (c == '\n') {
			lines++;
			at_line_start = 1;
		}
	}
	if (!at_line_start)
		putchar('\n');
	if (ferror(stdin)) {
		fprintf(stderr, "filter: read error\n");
		return 1;
	}
	printf("-- %lu bytes, %lu lines, %lu letters, crc32 %08x\n", bytes, lines, letters,
	       crc ^ 0xffffffffu);
	return 0;
}
