/*
 * The backdoor, mocked at the instruction: in user mode the driver's
 * `in (%dx),%eax` faults, and the SIGSEGV handler answers it in the saved
 * registers and steps over it. Any other fault is a driver crash: the trace
 * so far is flushed and the process dies by the signal.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/common_interface_defs.h>
#endif

#include "harness.h"
#include "trace.h"

#define OPCODE_IN_EAX_DX 0xED

uint64_t bs_backdoor_calls;

static void answer(greg_t *regs)
{
	uint64_t eax = (uint32_t)regs[REG_RAX], cmd = (uint32_t)regs[REG_RCX];
	uint64_t arg = regs[REG_RBX], port = (uint16_t)regs[REG_RDX];
	struct bs_reply reply;

	bs_backdoor_calls++;
	if (!bs_tracing) {
		/* bench "floor": the cheapest host that keeps the driver going */
		reply.status = BS_SUCCESS;
		reply.result = cmd == BS_CMD_GET_TARGET ? bs_env.target & BS_REGISTER_MASK : 0;
	} else if (eax != BS_HV_MAGIC || port != BS_HV_PORT) {
		reply.status = 0xffffffffu;
		reply.result = arg;
	} else {
		bs_host_call(&bs_env, cmd, &reply);
		if (reply.status == BS_SUCCESS) {
			if (cmd == BS_CMD_LOCK)
				bs_pool_set_locked(arg, true);
			else if (cmd == BS_CMD_UNLOCK)
				bs_pool_set_locked(arg, false);
			else if (cmd == BS_CMD_START)
				bs_pool_forget_locks();
		}
	}
	bs_emit(BS_EV_BACKDOOR, eax, cmd, arg, port, reply.status, reply.result);
	regs[REG_RAX] = reply.status;
	regs[REG_RBX] = reply.result;
	regs[REG_RIP] += 1;
}

static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGSEGV: return "SIGSEGV";
	case SIGBUS: return "SIGBUS";
	case SIGFPE: return "SIGFPE";
	case SIGILL: return "SIGILL";
	case SIGABRT: return "SIGABRT";
	case SIGTERM: return "SIGTERM";
	default: return "signal";
	}
}

/* Async-signal-safe hex formatting. */
static char *put_hex(char *p, uint64_t v)
{
	int shift = 60;

	*p++ = '0';
	*p++ = 'x';
	while (shift > 0 && !(v >> shift))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		*p++ = "0123456789abcdef"[v >> shift & 0xf];
	return p;
}

static char *put_str(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

static void die(int sig, const siginfo_t *si, const ucontext_t *uc)
{
	char msg[128], *p = msg;

	bs_trace_flush();
	/* SIGTERM is the runner stopping a hung driver, not a crash. */
	p = put_str(p, sig == SIGTERM ? "balloonspec-stopped: " : "balloonspec-crash: ");
	p = put_str(p, signal_name(sig));
	p = put_str(p, " at rip=");
	p = put_hex(p, uc->uc_mcontext.gregs[REG_RIP]);
	p = put_str(p, " addr=");
	p = put_hex(p, (uintptr_t)si->si_addr);
	*p++ = '\n';
	ssize_t unused = write(STDERR_FILENO, msg, p - msg);	/* best effort */

	(void)unused;
	signal(sig, SIG_DFL);
	raise(sig);	/* delivered once the handler returns */
}

static void on_signal(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	greg_t *regs = uc->uc_mcontext.gregs;

	/* A GP fault (SI_KERNEL) means the instruction was fetched: RIP is readable. */
	if (sig == SIGSEGV && si->si_code == SI_KERNEL &&
	    *(const uint8_t *)regs[REG_RIP] == OPCODE_IN_EAX_DX) {
		answer(regs);
		return;
	}
	die(sig, si, uc);
}

/* Room for the handler even when the driver overflowed its stack. */
static char alt_stack[1 << 16];

void bs_signals_install(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTERM };
	stack_t ss = { .ss_sp = alt_stack, .ss_size = sizeof(alt_stack) };
	struct sigaction sa;
	size_t i;

	if (sigaltstack(&ss, NULL))
		bs_fatal("sigaltstack failed");
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL))
			bs_fatal("sigaction failed");
#ifdef __SANITIZE_ADDRESS__
	/* A sanitizer report ends the process without returning: keep the trace. */
	__sanitizer_set_death_callback(bs_trace_flush);
#endif
}
