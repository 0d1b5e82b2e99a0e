/*  test_shm_value_parse.c — the CLIs' one number parser: decimal only, the whole text. */
#include "ezshm.h"

#include <criterion/criterion.h>

Test(value_parse, decimal_numbers_are_read)
{
    static const struct { const char *text; double want; } ok[] = {
        {"2", 2}, {"2.5", 2.5}, {".5", 0.5}, {"5.", 5}, {"-1e-3", -1e-3}, {"+7E2", 700}, {"0", 0}, {"0660", 660},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double v = -99;
        cr_expect(ezshm_value_parse_double(ok[i].text, &v), "%s", ok[i].text);
        cr_expect_eq(v, ok[i].want, "%s", ok[i].text);
    }
}

Test(value_parse, anything_else_is_refused)
{
    static const char *const bad[] = {
        "", " 2", "2 ", "0x10", "inf", "nan", "-", ".", "e5", "1e", "1e+", "1.2.3", "1,5", "2s", "1e999",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v = -99;
        cr_expect_not(ezshm_value_parse_double(bad[i], &v), "'%s' was read as %g", bad[i], v);
        cr_expect_eq(v, -99, "'%s' changed the output", bad[i]);
    }
    cr_expect_not(ezshm_value_parse_double(NULL, &(double) {0}));
}

Test(value_parse, integers)
{
    long long v = -99;
    cr_expect(ezshm_value_parse_int("42", &v) && v == 42);
    cr_expect(ezshm_value_parse_int("-9223372036854775808", &v) && v == INT64_MIN);
    static const char *const bad[] = {"", "0x10", "1.0", "1e3", " 1", "9223372036854775808", "+", "12a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_not(ezshm_value_parse_int(bad[i], &v), "'%s'", bad[i]);
}
