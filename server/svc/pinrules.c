/*
 * pinrules.c — see pinrules.h.
 */
#include "server/svc/pinrules.h"

#include <string.h>

/* The 100 PINs people choose most: the top 20 of published analyses of
 * leaked 4-digit PIN sets, then the shapes those analyses find behind
 * the rest of the head of the list — one digit repeated, runs up and
 * down, keypad lines and corners, pairs, the common 6-digit ones (for a
 * --pin-min-length of 6), and recent years. */
static const char *const common[] = {
	"1234", "1111", "0000", "1212", "7777", "1004", "2000", "4444",
	"2222", "6969", "9999", "3333", "5555", "6666", "1122", "1313",
	"8888", "4321", "2001", "1010", "0123", "2345", "3456", "4567",
	"5678", "6789", "9876", "8765", "7654", "6543", "5432", "3210",
	"1230", "0987", "2580", "0852", "1470", "7410", "3690", "0963",
	"1590", "7530", "1357", "2468", "8520", "9630", "3698", "1478",
	"1236", "1596", "2684", "4826", "1379", "7913", "2121", "0101",
	"2323", "1414", "1515", "1100", "0011", "2211", "1133", "1221",
	"1001", "2112", "6996", "5683", "0007", "123456", "111111", "000000",
	"654321", "121212", "123123", "112233", "666666", "159753", "987654", "123321",
	"888888", "2024", "2023", "2022", "2021", "2020", "2019", "2018",
	"2017", "2016", "2015", "2014", "2013", "2012", "2011", "2010",
	"2009", "2008", "2007", "2006",
};

int pinrules_common(const char *pin, size_t n)
{
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		if (strlen(common[i]) == n && !memcmp(common[i], pin, n))
			return 1;
	return 0;
}

const char *pinrules_check(const pin_rules *r, const char *pin, size_t n)
{
	unsigned min = r && r->min_len ? r->min_len : PIN_MIN_DEFAULT;
	if (n < min)
		return "the PIN is shorter than the minimum length the admin set "
		       "(--pin-min-length)";
	if (n > PIN_MAX)
		return "a PIN is at most 64 bytes";
	if (r && r->refuse_common && pinrules_common(pin, n))
		return "the PIN is one of the 100 most common PINs: choose another";
	return NULL;
}
