/*
 * The XML reader of EC2's answers (lib/aws/xml.c): a DescribeInstances
 * answer as EC2 writes it (namespace, nested item lists, empty elements),
 * entities and character references, CDATA, and the malformed documents it
 * must refuse (mismatched or unclosed tags, a DTD, nesting too deep, text
 * outside the root).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aws/xml.h"

static struct fo_xml *
parse(const char *s)
{
	struct fo_xml *doc = NULL;
	fo_err err;

	fo_err_clear(&err);
	assert_int_equal(fo_xml_parse(s, strlen(s), "test", &doc, &err), 0);
	return doc;
}

static void
refused(const char *s, const char *why)
{
	struct fo_xml *doc = NULL;
	fo_err err;

	fo_err_clear(&err);
	assert_int_equal(fo_xml_parse(s, strlen(s), "EC2 test", &doc, &err), -1);
	assert_null(doc);
	assert_int_equal(err.code, FO_EXIT_FAILURE);
	if (!strstr(err.msg, why) || !strstr(err.msg, "EC2 test"))
		fail_msg("%s: says '%s', not '%s'", s, err.msg, why);
}

static void
describe_instances_answer(void **state)
{
	const char *xml =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n"
		"  <requestId>8f7724cf-496f-496e-8fe3-example</requestId>\n"
		"  <reservationSet>\n"
		"    <item><reservationId>r-1</reservationId><ownerId>123456789012</ownerId>\n"
		"      <groupSet/>\n"
		"      <instancesSet>\n"
		"        <item><instanceId>i-0a</instanceId><instanceState><code>16</code>"
		"<name>running</name></instanceState><instanceType>m5.large</instanceType>"
		"<tagSet><item><key>owner</key><value>data &amp; ml &lt;team&gt;</value></item>"
		"<item><key>env</key><value/></item></tagSet></item>\n"
		"        <item><instanceId>i-0b</instanceId></item>\n"
		"      </instancesSet></item>\n"
		"  </reservationSet>\n"
		"</DescribeInstancesResponse>\n";
	struct fo_xml *doc = parse(xml);
	const struct fo_xml *set, *first, *tag;

	(void)state;
	assert_string_equal(doc->name, "DescribeInstancesResponse");
	assert_string_equal(fo_xml_text(doc, "reservationSet/item/ownerId"), "123456789012");
	assert_string_equal(fo_xml_text(doc, "reservationSet/item/groupSet"), "");
	set = fo_xml_at(doc, "reservationSet/item/instancesSet");
	first = set->child;
	assert_string_equal(fo_xml_text(first, "instanceState/name"), "running");
	assert_string_equal(fo_xml_text(first, "instanceType"), "m5.large");
	tag = fo_xml_at(first, "tagSet/item");
	assert_string_equal(fo_xml_text(tag, "value"), "data & ml <team>");
	assert_string_equal(fo_xml_text(tag->next, "value"), "");
	assert_string_equal(fo_xml_text(first->next, "instanceId"), "i-0b");
	assert_null(first->next->next);
	assert_null(fo_xml_text(first->next, "instanceType"));
	assert_null(fo_xml_text(doc, "nextToken"));
	assert_null(fo_xml_at(NULL, "x"));
	fo_xml_free(doc);
}

static void
references_cdata_prefixes_and_attributes(void **state)
{
	struct fo_xml *doc = parse("<!-- a comment --><ec2:R a='x>y' b=\"1\"><m>&#233;t&#xE9;"
				   " &quot;&apos;</m><c><![CDATA[<not a tag> &amp;]]></c>"
				   "</ec2:R>");

	(void)state;
	assert_string_equal(doc->name, "R");
	assert_string_equal(fo_xml_text(doc, "m"), "\xc3\xa9t\xc3\xa9 \"'");
	assert_string_equal(fo_xml_text(doc, "c"), "<not a tag> &amp;");
	fo_xml_free(doc);
}

static void
malformed_documents_are_refused(void **state)
{
	char deep[64 * 3 + 80];
	size_t n = 0;

	(void)state;
	refused("<a><b></a>", "does not match");
	refused("<a><b>", "left open");
	refused("", "no element");
	refused("<a></a><b/>", "second root");
	refused("x<a/>", "outside the root");
	refused("<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>", "a DTD");
	refused("<a>&bogus;</a>", "unknown entity");
	refused("<a>&#0;</a>", "bad character reference");
	refused("<a>&#x110000;</a>", "out of range");
	refused("<a>&#xD800;</a>", "bad character reference");
	refused("</a>", "end tag without its start");
	refused("<a", "unterminated");
	refused("<a><!-- open</a>", "unterminated comment");
	refused("<:>x</:>", "empty element name");
	refused("<a\x01b/>", "bad character in an element name");
	{
		struct fo_xml *doc = NULL;
		fo_err err;

		fo_err_clear(&err);
		assert_int_equal(fo_xml_parse("<\0a/>", 5, "t", &doc, &err), -1);
		assert_non_null(strstr(err.msg, "a NUL byte"));
	}
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "<a>");
	refused(deep, "nested too deep");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(describe_instances_answer),
		cmocka_unit_test(references_cdata_prefixes_and_attributes),
		cmocka_unit_test(malformed_documents_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
