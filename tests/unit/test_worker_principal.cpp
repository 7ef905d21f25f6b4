// `webhook-worker principal add|list|remove`: its command line and the checks of USER and IDs.
#include <cppunit/extensions/HelperMacros.h>

#include "options.hpp"
#include "principal.hpp"

using namespace wh::worker;

class WorkerPrincipalTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(WorkerPrincipalTest);
    CPPUNIT_TEST(add_forms);
    CPPUNIT_TEST(list_and_remove);
    CPPUNIT_TEST(usage_errors);
    CPPUNIT_TEST(only_the_database_and_log_level);
    CPPUNIT_TEST(user_names);
    CPPUNIT_TEST(listing_format);
    CPPUNIT_TEST_SUITE_END();

    static const char* db() { return "host=127.0.0.1 port=3306 user=u password=p database=d"; }

    static std::string load(std::vector<std::string> args, Options& o) {
        CommandLine cl;
        if (std::string e = parse_command_line(args, cl); !e.empty()) return e;
        return resolve_options(cl, {{"database", db()}, {"concurrency", "4"}}, o);
    }

    static PrincipalRequest ok(const std::vector<std::string>& args) {
        Options o;
        std::string e = load(args, o);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(args.empty() ? "" : args.back(), std::string(), e);
        CPPUNIT_ASSERT_EQUAL(std::string("principal"), o.command);
        return o.principal;
    }

    static void fails(const std::vector<std::string>& args, const std::string& needle) {
        Options o;
        std::string e = load(args, o);
        CPPUNIT_ASSERT_MESSAGE("expected an error mentioning " + needle + ", got '" + e + "'",
                               !e.empty() && e.find(needle) != std::string::npos);
    }

public:
    void add_forms() {
        PrincipalRequest p = ok({"principal", "add", "alice", "--reseller", "res-1"});
        CPPUNIT_ASSERT_EQUAL(std::string("add"), p.action);
        CPPUNIT_ASSERT_EQUAL(std::string("alice"), p.user);
        CPPUNIT_ASSERT_EQUAL(std::string("reseller"), p.kind);
        CPPUNIT_ASSERT_EQUAL(std::string("res-1"), p.scope_id);
        p = ok({"principal", "add", "--portfolio=pf.2", "bob@example.com", "--database", db()});
        CPPUNIT_ASSERT_EQUAL(std::string("portfolio"), p.kind);
        CPPUNIT_ASSERT_EQUAL(std::string("pf.2"), p.scope_id);
        CPPUNIT_ASSERT_EQUAL(std::string("bob@example.com"), p.user);
        p = ok({"principal", "add", "root", "--admin"});
        CPPUNIT_ASSERT_EQUAL(std::string("admin"), p.kind);
        CPPUNIT_ASSERT_EQUAL(std::string(), p.scope_id);
    }

    void list_and_remove() {
        CPPUNIT_ASSERT_EQUAL(std::string(), ok({"principal", "list"}).user);
        CPPUNIT_ASSERT_EQUAL(std::string("carol"), ok({"principal", "list", "carol"}).user);
        PrincipalRequest p = ok({"principal", "remove", "carol"});
        CPPUNIT_ASSERT_EQUAL(std::string(), p.kind);  // every row of the user
        p = ok({"principal", "remove", "carol", "--admin"});
        CPPUNIT_ASSERT_EQUAL(std::string("admin"), p.kind);
    }

    void usage_errors() {
        fails({"principal"}, "add, list or remove");
        fails({"principal", "rename", "x"}, "add, list or remove");
        fails({"principal", "add", "alice"}, "--reseller ID, --portfolio ID or --admin");
        fails({"principal", "add", "--admin"}, "needs a USER");
        fails({"principal", "remove"}, "needs a USER");
        fails({"principal", "add", "alice", "bob", "--admin"}, "unexpected argument 'bob'");
        fails({"principal", "add", "alice", "--reseller", "a b"}, "1-64 characters");
        fails({"principal", "add", "alice", "--portfolio", std::string(65, 'p')}, "1-64 characters");
        fails({"principal", "add", "alice", "--reseller"}, "needs an ID");
        fails({"principal", "add", "alice", "--admin", "--reseller", "r"}, "give one of");
        fails({"principal", "list", "alice", "--admin"}, "list takes no");
        fails({"principal", "add", "a:b", "--admin"}, "USER must be");
    }

    void only_the_database_and_log_level() {
        ok({"principal", "list", "--log-level", "debug"});
        fails({"principal", "list", "--concurrency", "4"}, "unknown option '--concurrency' for 'principal'");
        fails({"principal", "list", "--secret-key-file", "/k"}, "for 'principal'");
        Options o;
        CommandLine cl;
        CPPUNIT_ASSERT_EQUAL(std::string(), parse_command_line({"principal", "list"}, cl));
        CPPUNIT_ASSERT(!resolve_options(cl, {}, o).empty());  // no database anywhere
        CPPUNIT_ASSERT_EQUAL(std::string(), parse_command_line({"principal", "--help"}, cl));
        CPPUNIT_ASSERT_EQUAL(std::string("help"), cl.command);
    }

    void user_names() {
        CPPUNIT_ASSERT(valid_principal_user("alice"));
        CPPUNIT_ASSERT(valid_principal_user("cn=Alice Smith,ou=people"));
        CPPUNIT_ASSERT(valid_principal_user(std::string(255, 'u')));
        CPPUNIT_ASSERT(!valid_principal_user(""));
        CPPUNIT_ASSERT(!valid_principal_user(std::string(256, 'u')));
        CPPUNIT_ASSERT(!valid_principal_user("a:b"));
        CPPUNIT_ASSERT(!valid_principal_user("a\nb"));
        CPPUNIT_ASSERT(!valid_principal_user("a\x7f"));
    }

    void listing_format() {
        std::string text = format_principals({{"root", "admin", "", "2026-01-02T03:04:05"},
                                              {"alice", "reseller", "res-1", "2026-01-02T03:04:06"}});
        CPPUNIT_ASSERT_EQUAL(std::string("root\tadmin\t-\t2026-01-02T03:04:05\n"
                                         "alice\treseller\tres-1\t2026-01-02T03:04:06\n"),
                             text);
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(WorkerPrincipalTest, "worker_principal");
