// webhook-worker(8) comes from the option table: every option, its key and default are in it.
#include <cppunit/extensions/HelperMacros.h>

#include "man_page.hpp"
#include "options.hpp"

using namespace wh::worker;

class WorkerManPageTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(WorkerManPageTest);
    CPPUNIT_TEST(every_option_appears);
    CPPUNIT_TEST(every_subcommand_appears);
    CPPUNIT_TEST(roff_is_escaped);
    CPPUNIT_TEST(page_header);
    CPPUNIT_TEST_SUITE_END();

    static std::string page() { return man_page("1.2.3", "/usr/share/mod_webhook/sql"); }

    static void contains(const std::string& text, const std::string& needle) {
        CPPUNIT_ASSERT_MESSAGE("the man page lacks " + needle, text.find(needle) != std::string::npos);
    }

public:
    void every_option_appears() {
        const std::string m = page();
        for (const auto& spec : option_table()) {
            contains(m, ".TP\n\\fB" + roff_escape(option_flag(spec.key)) + "\\fR \\fI" + roff_escape(spec.arg));
            contains(m, roff_escape(option_help(spec)));  // the help sentence with its default
            contains(m, "Key " + roff_escape(spec.key) + ";");
        }
        contains(m, "\\fB\\-\\-config\\fR \\fIFILE\\fR");
        contains(m, "\\fB\\-\\-help\\fR");
        contains(m, "\\fB\\-\\-version\\fR");
    }

    void every_subcommand_appears() {
        const std::string m = page();
        contains(m, ".B webhook\\-worker migrate\n");
        for (const char* action : {"add", "list", "remove"}) contains(m, std::string(".B webhook\\-worker principal ") + action);
        for (const char* flag : {"\\-\\-reseller", "\\-\\-portfolio", "\\-\\-admin"}) contains(m, flag);
        contains(m, "Apache authenticates the\nuser");
        contains(m, "/usr/share/mod_webhook/sql");
        contains(m, "JOURNAL_STREAM");
    }

    void roff_is_escaped() {
        CPPUNIT_ASSERT_EQUAL(std::string("\\-\\-per\\-endpoint"), roff_escape("--per-endpoint"));
        CPPUNIT_ASSERT_EQUAL(std::string("a\\eb"), roff_escape("a\\b"));
        CPPUNIT_ASSERT_EQUAL(std::string("\\&.x\n\\&'y\nz.w"), roff_escape(".x\n'y\nz.w"));
        // "'" starts a control line in roff as '.' does: no help text may put one there
        const std::string m = page();
        size_t start = 0;
        while (start < m.size()) {
            size_t end = m.find('\n', start);
            const std::string line = m.substr(start, end - start);
            CPPUNIT_ASSERT_MESSAGE(line, line.empty() || line[0] != '\'');
            start = end == std::string::npos ? m.size() : end + 1;
        }
    }

    void page_header() {
        const std::string m = page();
        CPPUNIT_ASSERT_EQUAL(0, m.compare(0, 25, ".TH WEBHOOK\\-WORKER 8 \"\" "));
        contains(m, "mod_webhook 1.2.3");
        contains(m, ".SH NAME\nwebhook\\-worker \\- ");
        contains(m, ".SH SEE ALSO");
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(WorkerManPageTest, "worker_man_page");
