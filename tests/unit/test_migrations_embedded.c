/*
 * Every file of sql/migrations is compiled into the library, in order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "finops/migrate.h"

static void
test_every_migration_file_is_embedded_in_version_order(void **state)
{
	(void)state;
	assert_int_equal(fo_migrations_embedded_count, FO_EXPECTED_MIGRATIONS);
	for (size_t i = 0; i < fo_migrations_embedded_count; i++) {
		char prefix[8];

		snprintf(prefix, sizeof(prefix), "%04d_", fo_migrations_embedded[i].version);
		assert_int_equal(strncmp(fo_migrations_embedded[i].name, prefix, 5), 0);
		assert_true(strlen(fo_migrations_embedded[i].sql) > 0);
		if (i > 0)
			assert_true(fo_migrations_embedded[i].version >
				    fo_migrations_embedded[i - 1].version);
	}
	assert_null(fo_migrations_embedded[fo_migrations_embedded_count].name);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_migration_file_is_embedded_in_version_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
