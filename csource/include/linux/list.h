/* Doubly linked lists: every operation is an interpreter intrinsic, so that
 * the list representation stays behind one class (csource/lists.py). */
#ifndef _BSA_LINUX_LIST_H
#define _BSA_LINUX_LIST_H

#include <linux/types.h>
#include <linux/kernel.h>

void INIT_LIST_HEAD(struct list_head *list);
void list_add(struct list_head *new, struct list_head *head);
void list_add_tail(struct list_head *new, struct list_head *head);
void list_del(struct list_head *entry);
int list_empty(const struct list_head *head);

#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(ptr, type, member) \
	((type *)__bs_list_first((ptr), (type *)0, #member))

#define list_last_entry(ptr, type, member) \
	((type *)__bs_list_last((ptr), (type *)0, #member))

#define list_for_each_entry(pos, head, member)				\
	for (pos = __bs_list_first((head), pos, #member);		\
	     !__bs_list_is_head((head), pos);				\
	     pos = __bs_list_next((head), pos, #member))

#define list_for_each_entry_safe(pos, n, head, member)			\
	for (pos = __bs_list_first((head), pos, #member),		\
		n = __bs_list_next((head), pos, #member);		\
	     !__bs_list_is_head((head), pos);				\
	     pos = n, n = __bs_list_next((head), n, #member))

#define list_for_each_entry_reverse(pos, head, member)			\
	for (pos = __bs_list_last((head), pos, #member);		\
	     !__bs_list_is_head((head), pos);				\
	     pos = __bs_list_prev((head), pos, #member))

#define list_for_each_entry_safe_reverse(pos, n, head, member)		\
	for (pos = __bs_list_last((head), pos, #member),		\
		n = __bs_list_prev((head), pos, #member);		\
	     !__bs_list_is_head((head), pos);				\
	     pos = n, n = __bs_list_prev((head), n, #member))

#endif
