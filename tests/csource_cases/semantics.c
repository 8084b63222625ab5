/*
 * C semantics the interpreter must get exactly right, checked against gcc:
 * every function t_* is run by the interpreter and by a native build, and
 * their results compared (tests/test_csource_semantics.py).
 */
#include <linux/types.h>
#include <linux/kernel.h>

#ifndef max_t
#define max_t(type, x, y) max((type)(x), (type)(y))
#endif

struct inner {
	unsigned int count;
	u8 small;
	bool flag;
};

struct outer {
	int a;
	unsigned long big;
	struct inner in;
};

static struct outer g_outer = { .a = -3, .big = 10UL, .in = { .count = 7 } };
static unsigned int g_counter;
static const int g_table_base = 40;

long long t_promotions(void)
{
	u8 a = 200, b = 100;
	s8 c = -1;
	unsigned short s = 65535;

	return (a + b) * 1000000LL + (c < 1u) * 1000 + (s + 1);	/* 300, 0 (-1 -> UINT_MAX), 65536 */
}

long long t_signed_unsigned(void)
{
	int m = -1;
	unsigned int u = 1;
	long l = -1;
	unsigned long ul = 1;

	return (m < u) + 2 * (l < ul) + 4 * (l < u) + 8 * (m < (long)u) + 16 * ((unsigned long)m == ~0UL);
}

long long t_conversions(void)
{
	unsigned long big = 0x1234567890abcdefUL;
	unsigned int t = big;			/* truncation */
	int neg = -5;
	unsigned long ext = neg;		/* sign extension */
	unsigned long zext = (unsigned int)neg;	/* zero extension */
	s8 n8 = 200;				/* 200 -> -56 */
	u16 w = -1;
	bool b1 = 256, b2 = 0;

	return (long long)(t == 0x90abcdef) + 2 * (ext == 0xfffffffffffffffbUL) + 4 * (zext == 0xfffffffbUL)
		+ 8 * (n8 == -56) + 16 * (w == 65535) + 32 * b1 + 64 * b2;
}

unsigned long long t_wraparound(void)
{
	unsigned int x = 0;
	unsigned long y = 0;
	int z = 0x7fffffff;

	x--;
	y -= 2;
	z++;			/* wraps (the build uses -fwrapv) */
	return (unsigned long long)x * 3 + y + (unsigned int)z;
}

int t_incdec(void)
{
	int i = 5, j;
	unsigned int k = 0;
	bool f = false;

	j = i++ + ++i;		/* 5 + 7 */
	k--;
	f++;
	f++;
	return j * 100 + (k == 4294967295u) * 10 + f;
}

int t_compound(void)
{
	u8 a = 250;
	unsigned int b = 10;
	int c = -7;

	a += 10;		/* 4 */
	b *= 3;
	b -= 40;		/* wraps */
	c |= 0x10;
	c ^= 3;
	b /= 7;
	return a + (b == 613566753u) * 1000 + c * 10000;
}

int t_ternary_logic(void)
{
	int calls = 0;
	int x = 0;
	unsigned int u = 3;
	long r;

	if (x && ++calls)
		x = 100;
	if (x || ++calls)
		x += 1;
	r = u > 2 ? -1 : 1u;	/* unsigned int result: 4294967295 */
	return calls * 1000 + x * 10 + (r == 4294967295L) + !x * 7 + !!u * 3;
}

int t_switch(int v)
{
	int r = 0;

	switch (v) {
	case 1:
		r += 1;
		/* fall through */
	case 2:
		r += 10;
		break;
	case 3:
	case 4:
		r += 100;
	default:
		r += 1000;
		break;
	case 5:
		switch (r) {
		case 0:
			r = 5;
			break;
		}
		r *= 3;
	}
	return r;
}

int t_switches(void)
{
	return t_switch(1) + 2 * t_switch(2) + 3 * t_switch(4) + 5 * t_switch(5) + 7 * t_switch(9);
}

int t_loops(void)
{
	int i, s = 0, n = 0;
	unsigned int k = 10;

	for (i = 0; i < 10; i++) {
		if (i == 3)
			continue;
		if (i == 8)
			break;
		s += i;
	}
	while (k--)
		n++;
	do {
		n += 100;
	} while (n < 300);
	i = 0;
again:
	i++;
	if (i < 4)
		goto again;
	return s * 10000 + n * 10 + i;
}

static void set_out(unsigned int *out, u32 v)
{
	*out = v;
}

static int bump(struct outer *o)
{
	o->in.count++;
	o->big |= 1;
	return o->in.count;
}

int t_pointers(void)
{
	unsigned int v = 1;
	struct outer local = { 0 };
	struct inner *in = &g_outer.in;
	int (*fp)(struct outer *) = bump;

	set_out(&v, 42);
	set_out(&local.in.count, 9);
	in->small = 300;	/* 44 */
	fp(&g_outer);
	bump(&local);
	return v * 1000000 + local.in.count * 10000 + in->small * 10 + (g_outer.in.count == 8) + g_outer.a;
}

int t_min_max(void)
{
	unsigned int a = 5;
	int b = -1;
	unsigned long c = min((unsigned long)a, 3UL);

	return max(a, 7u) * 1000 + (min(b, -4) == -4) * 100 + c * 10 + (max_t(int, b, 0) == 0);
}

int t_statement_expression(void)
{
	int x = ({ int y = 3; y * 2; });
	unsigned long z = ({ unsigned long q = 1; q += x; q; });

	return x * 100 + z;
}

static int fact(int n)
{
	return n <= 1 ? 1 : n * fact(n - 1);
}

long long t_recursion_and_statics(void)
{
	g_counter += 2;
	g_counter *= 5;
	return fact(10) * 100LL + g_counter + g_table_base;
}

unsigned long long t_comma_and_casts(void)
{
	int a, b;
	unsigned long r;

	a = (b = 4, b + 1);
	r = (unsigned long)(int)(unsigned char)-3 + (unsigned char)(a * 100);
	return r * 1000 + (unsigned long)(long)-a;
}
