/*
 * Unit tests of the SQLSTATE to exit-code classification (pg.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "finops/exit.h"
#include "finops/pg.h"

static void
test_connection_and_resource_errors_are_transient(void **state)
{
	(void)state;
	assert_int_equal(fo_pg_sqlstate_class("08006"), FO_EXIT_TRANSIENT); /* connection_failure */
	assert_int_equal(fo_pg_sqlstate_class("53300"), FO_EXIT_TRANSIENT); /* too_many_connections */
	assert_int_equal(fo_pg_sqlstate_class("53100"), FO_EXIT_TRANSIENT); /* disk_full */
	assert_int_equal(fo_pg_sqlstate_class("40001"), FO_EXIT_TRANSIENT); /* serialization */
	assert_int_equal(fo_pg_sqlstate_class("40P01"), FO_EXIT_TRANSIENT); /* deadlock */
	assert_int_equal(fo_pg_sqlstate_class("57P01"), FO_EXIT_TRANSIENT); /* admin_shutdown */
	assert_int_equal(fo_pg_sqlstate_class("57P03"), FO_EXIT_TRANSIENT); /* cannot_connect_now */
	assert_int_equal(fo_pg_sqlstate_class("55P03"), FO_EXIT_TRANSIENT); /* lock_not_available */
}

static void
test_data_errors_are_bad_input(void **state)
{
	(void)state;
	assert_int_equal(fo_pg_sqlstate_class("22P02"), FO_EXIT_BAD_INPUT); /* invalid_text_repr */
	assert_int_equal(fo_pg_sqlstate_class("22021"), FO_EXIT_BAD_INPUT); /* bad encoding */
	assert_int_equal(fo_pg_sqlstate_class("23505"), FO_EXIT_BAD_INPUT); /* unique_violation */
	assert_int_equal(fo_pg_sqlstate_class("23514"), FO_EXIT_BAD_INPUT); /* check_violation */
}

static void
test_auth_and_privilege_errors_are_usage(void **state)
{
	(void)state;
	assert_int_equal(fo_pg_sqlstate_class("28P01"), FO_EXIT_USAGE);
	assert_int_equal(fo_pg_sqlstate_class("3D000"), FO_EXIT_USAGE);
	assert_int_equal(fo_pg_sqlstate_class("42501"), FO_EXIT_USAGE);
}

static void
test_other_errors_are_failures(void **state)
{
	(void)state;
	assert_int_equal(fo_pg_sqlstate_class("42601"), FO_EXIT_FAILURE); /* syntax_error */
	assert_int_equal(fo_pg_sqlstate_class("XX000"), FO_EXIT_FAILURE);
	assert_int_equal(fo_pg_sqlstate_class(NULL), FO_EXIT_FAILURE);
	assert_int_equal(fo_pg_sqlstate_class("08"), FO_EXIT_FAILURE);
}

static void
test_exit_names(void **state)
{
	(void)state;
	assert_string_equal(fo_exit_name(FO_EXIT_NOTHING_NEW), "nothing_new");
	assert_string_equal(fo_exit_name(FO_EXIT_TRANSIENT), "transient");
	assert_string_equal(fo_exit_name(42), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connection_and_resource_errors_are_transient),
		cmocka_unit_test(test_data_errors_are_bad_input),
		cmocka_unit_test(test_auth_and_privilege_errors_are_usage),
		cmocka_unit_test(test_other_errors_are_failures),
		cmocka_unit_test(test_exit_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
