/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intrusive doubly-linked lists: an item has `prev` and `next` pointers,
 * a list is a pointer to its first item. Used for the sets a server
 * drops from in any order (connections, pending replies, requests).
 */
#ifndef MVM_UTIL_LIST_H
#define MVM_UTIL_LIST_H

#define LIST_PREPEND(head, item)                 \
	do {                                     \
		(item)->prev = NULL;             \
		(item)->next = (head);           \
		if (head)                        \
			(head)->prev = (item);   \
		(head) = (item);                 \
	} while (0)

/* Unlinks item from the list at head, and leaves it linked to nothing. */
#define LIST_REMOVE(head, item)                                  \
	do {                                                     \
		if ((item)->prev)                                \
			(item)->prev->next = (item)->next;       \
		else                                             \
			(head) = (item)->next;                   \
		if ((item)->next)                                \
			(item)->next->prev = (item)->prev;       \
		(item)->prev = (item)->next = NULL;              \
	} while (0)

#endif
