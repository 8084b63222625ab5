/* State and entry points shared by the harness's files. */
#ifndef BS_HARNESS_H
#define BS_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "script.h"

extern struct bs_env bs_env;
extern uint64_t bs_backdoor_calls;

/* Exit after a harness (not driver) failure: verdict "error". */
void bs_fatal(const char *msg) __attribute__((noreturn));

/* backdoor.c */
void bs_signals_install(void);

/* pool.c */
void bs_pool_init(void);
void bs_pool_set_locked(uint64_t pfn, bool locked);
void bs_pool_forget_locks(void);
void bs_pool_account(void);

/* kapi.c */
void bs_kapi_init(void);
void bs_module_load(void);
void bs_module_unload(void);
void bs_run_queued_work(void);
void bs_read_debugfs(void);

#endif
