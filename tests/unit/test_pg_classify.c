/*
 * Unit tests of pg.c without a server: the SQLSTATE to exit-code
 * classification, and connection strings redacted by what libpq parses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "finops/exit.h"
#include "finops/log.h"
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

static const char *
red(const char *conninfo)
{
	static char out[512];

	fo_pg_redact_conninfo(conninfo, out, sizeof(out));
	return out;
}

static void
test_conninfo_without_a_secret_is_shown_as_given(void **state)
{
	(void)state;
	assert_string_equal(red("dbname=finops"), "dbname=finops");
	assert_string_equal(red("postgresql://etl@db/finops?sslmode=require"),
			    "postgresql://etl@db/finops?sslmode=require");
	/* a word that only looks like a password is not one */
	assert_string_equal(red("dbname=password host=db"), "dbname=password host=db");
}

static void
test_every_spelling_of_a_password_is_redacted(void **state)
{
	(void)state;
	assert_string_equal(red("host=db user=etl password=hunter2 dbname=finops"),
			    "user=etl password=[REDACTED] dbname=finops host=db");
	assert_string_equal(red("password = 'p a\\'ss' host=db"),
			    "password=[REDACTED] host=db");
	assert_string_equal(red("postgresql://etl:hunter2@db:5432/finops?sslmode=require"),
			    "user=etl password=[REDACTED] dbname=finops host=db port=5432"
			    " sslmode=require");
	assert_string_equal(red("postgres://db/finops?user=etl&password=hunter2&connect_timeout=3"),
			    "user=etl password=[REDACTED] connect_timeout=3 dbname=finops host=db");
	/* percent-encoded keyword and value: libpq decodes both */
	assert_null(strstr(red("postgresql:///finops?host=/tmp&%70assword=hun%74er2"), "hun"));
	assert_string_equal(red("postgresql:///finops?host=/tmp&%70assword=hun%74er2"),
			    "password=[REDACTED] dbname=finops host=/tmp");
	/* the client key's passphrase is a secret too */
	assert_string_equal(red("host=db sslpassword=keypass"),
			    "host=db sslpassword=[REDACTED]");
	/* values that need quotes keep them */
	assert_string_equal(red("password=x application_name='a b'"),
			    "password=[REDACTED] application_name='a b'");
}

static void
test_a_string_libpq_cannot_parse_is_hidden_whole(void **state)
{
	char buf[256];

	(void)state;
	assert_string_equal(red("postgresql://u:hunter2@[::1/finops"),
			    "[REDACTED: not a connection string libpq can parse]");
	assert_string_equal(red("host=db password='unterminated"),
			    "[REDACTED: not a connection string libpq can parse]");
	/* and libpq echoing it whole in an error is redacted in the log */
	assert_int_equal(fo_pg_protect_conninfo("postgresql://u:hunter2@[::1/finops"), 0);
	snprintf(buf, sizeof(buf), "invalid URI \"postgresql://u:hunter2@[::1/finops\"");
	fo_log_redact(buf, sizeof(buf));
	assert_string_equal(buf, "invalid URI \"[REDACTED]\"");
	fo_log_forget_secrets();
	assert_int_equal(fo_pg_protect_conninfo("postgresql:///f?%70assword=hun%74er2"), 0);
	snprintf(buf, sizeof(buf), "the password hunter2 and the DSN"
		 " postgresql:///f?%%70assword=hun%%74er2");
	fo_log_redact(buf, sizeof(buf));
	assert_string_equal(buf, "the password [REDACTED] and the DSN [REDACTED]");
	fo_log_forget_secrets();
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
		cmocka_unit_test(test_conninfo_without_a_secret_is_shown_as_given),
		cmocka_unit_test(test_every_spelling_of_a_password_is_redacted),
		cmocka_unit_test(test_a_string_libpq_cannot_parse_is_hidden_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
