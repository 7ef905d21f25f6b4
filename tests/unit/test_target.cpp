#include <cppunit/extensions/HelperMacros.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "target.hpp"

using namespace wh;

class TargetTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(TargetTest);
    CPPUNIT_TEST(scope_ids);
    CPPUNIT_TEST(url_accepts_http_and_https);
    CPPUNIT_TEST(url_rejections);
    CPPUNIT_TEST(every_ipv4_notation_of_loopback_is_non_public);
    CPPUNIT_TEST(non_public_ranges);
    CPPUNIT_TEST(public_addresses);
    CPPUNIT_TEST(policy_off_on_and_cidrs);
    CPPUNIT_TEST(check_target_literals);
    CPPUNIT_TEST(refusals_name_no_address);
    CPPUNIT_TEST(a_resolver_that_hangs_is_a_timeout);
    CPPUNIT_TEST(real_resolution_is_bounded);
    CPPUNIT_TEST_SUITE_END();

    static IpAddr ip(const std::string& s) {
        IpAddr a;
        CPPUNIT_ASSERT_MESSAGE(s, parse_ip_literal(s, a));
        return a;
    }

public:
    void scope_ids() {
        CPPUNIT_ASSERT(valid_scope_id("r-1.A_b"));
        CPPUNIT_ASSERT(valid_scope_id(std::string(64, 'x')));
        CPPUNIT_ASSERT(!valid_scope_id(std::string(65, 'x')));
        CPPUNIT_ASSERT(!valid_scope_id(""));
        CPPUNIT_ASSERT(!valid_scope_id("a b"));
        CPPUNIT_ASSERT(!valid_scope_id("a/b"));
        CPPUNIT_ASSERT(!valid_scope_id("é"));
    }

    void url_accepts_http_and_https() {
        Url u;
        CPPUNIT_ASSERT_EQUAL(std::string(), parse_url("HTTPS://Example.COM:8443/h?x=1", u));
        CPPUNIT_ASSERT_EQUAL(std::string("https"), u.scheme);
        CPPUNIT_ASSERT_EQUAL(std::string("example.com"), u.host);
        CPPUNIT_ASSERT_EQUAL(8443u, u.port);
        CPPUNIT_ASSERT_EQUAL(std::string("/h?x=1"), u.path);
        CPPUNIT_ASSERT_EQUAL(std::string(), parse_url("http://[::1]/x", u));
        CPPUNIT_ASSERT_EQUAL(std::string("::1"), u.host);
        CPPUNIT_ASSERT_EQUAL(80u, u.port);
        CPPUNIT_ASSERT_EQUAL(std::string(), parse_url("https://a.example?q", u));
        CPPUNIT_ASSERT_EQUAL(std::string("/?q"), u.path);
    }

    void url_rejections() {
        Url u;
        for (const char* bad : {"", "example.com/x", "ftp://example.com/", "http://user:pw@example.com/",
                                "http://example.com/#frag", "http:///x", "http://exa mple.com/",
                                "http://example.com:0/", "http://example.com:70000/",
                                "http://[::1/", "http://[zz::1]/", "http://ex%61mple.com/",
                                "javascript:alert(1)", "http://example.com/\r\nX: y"})
            CPPUNIT_ASSERT_MESSAGE(bad, !parse_url(bad, u).empty());
        CPPUNIT_ASSERT(!parse_url("https://example.com/" + std::string(2040, 'a'), u).empty());
        CPPUNIT_ASSERT(parse_url("https://example.com/" + std::string(2028, 'a'), u).empty());
    }

    void every_ipv4_notation_of_loopback_is_non_public() {
        for (const char* s : {"127.0.0.1", "2130706433", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001",
                              "127.1", "::ffff:127.0.0.1", "[::ffff:7f00:1]", "::1", "[::1]", "::"})
            CPPUNIT_ASSERT_MESSAGE(s, is_non_public(ip(s)));
        CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.1"), ip("0x7f.1").str());
    }

    void non_public_ranges() {
        for (const char* s : {"10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
                              "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1",
                              "255.255.255.255", "198.18.0.1", "fe80::1", "fc00::1", "fd12::1",
                              "ff02::1", "64:ff9b::a00:1", "2002:a00:1::", "2001:db8::1",
                              "::ffff:10.0.0.1", "::ffff:169.254.169.254",
                              // IPv6 documentation (RFC 9637), benchmarking, Azure host services
                              "3fff::1", "3fff:fff:ffff::1", "2001:2::1", "2001:2:0:ffff::1", "168.63.129.16"})
            CPPUNIT_ASSERT_MESSAGE(s, is_non_public(ip(s)));
    }

    void public_addresses() {
        for (const char* s : {"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111",
                              "64:ff9b::808:808", "::ffff:8.8.8.8",
                              "3ffe:ffff::1", "3fff:1000::1", "2001:2:1::1", "2001:3::1", "168.63.129.15",
                              "168.63.129.17"})
            CPPUNIT_ASSERT_MESSAGE(s, !is_non_public(ip(s)));
    }

    void policy_off_on_and_cidrs() {
        AddressPolicy p;
        CPPUNIT_ASSERT_EQUAL(std::string(), p.parse("Off"));
        CPPUNIT_ASSERT(!p.permits(ip("127.0.0.1")));
        CPPUNIT_ASSERT(p.permits(ip("8.8.8.8")));
        CPPUNIT_ASSERT_EQUAL(std::string(), p.parse("on"));
        CPPUNIT_ASSERT(p.permits(ip("10.0.0.1")));
        CPPUNIT_ASSERT_EQUAL(std::string(), p.parse("127.0.0.0/8 ::1/128"));
        CPPUNIT_ASSERT(p.permits(ip("127.5.6.7")));
        CPPUNIT_ASSERT(p.permits(ip("::1")));
        CPPUNIT_ASSERT(p.permits(ip("2130706433")));
        CPPUNIT_ASSERT(!p.permits(ip("10.0.0.1")));
        CPPUNIT_ASSERT(!p.permits(ip("169.254.169.254")));
        CPPUNIT_ASSERT(!p.permits(ip("::2")));
        CPPUNIT_ASSERT(!p.parse("127.0.0.0/33").empty());
        CPPUNIT_ASSERT(!p.parse("bogus").empty());
    }

    void check_target_literals() {
        AddressPolicy off, loop;
        off.parse("Off");
        loop.parse("127.0.0.0/8");
        Url u;
        parse_url("http://0x7f.0.0.1:8080/hook", u);
        CPPUNIT_ASSERT(!check_target(u, off).empty());
        std::vector<IpAddr> addrs;
        CPPUNIT_ASSERT_EQUAL(std::string(), check_target(u, loop, &addrs));
        CPPUNIT_ASSERT_EQUAL(size_t(1), addrs.size());
        parse_url("http://[::ffff:169.254.169.254]/", u);
        CPPUNIT_ASSERT(!check_target(u, loop).empty());
        parse_url("http://localhost/", u);  // names are resolved, then checked
        CPPUNIT_ASSERT(!check_target(u, off).empty());
    }
    void refusals_name_no_address() {
        AddressPolicy off;
        off.parse("Off");
        Url u;
        parse_url("http://internal.example:8080/hook", u);
        auto private_dns = [](const std::string&, std::chrono::milliseconds, std::vector<IpAddr>& out) {
            IpAddr a;
            parse_ip_literal("10.20.30.40", a);
            out.push_back(a);
            return Resolved::ok;
        };
        std::string detail;
        std::string e = check_target(u, off, nullptr, &detail, private_dns);
        CPPUNIT_ASSERT_EQUAL(std::string(kTargetNotAllowed), e);
        CPPUNIT_ASSERT(e.find("10.20") == std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(detail, detail.find("internal.example") != std::string::npos &&
                                           detail.find("10.20.30.40") != std::string::npos);
    }

    void a_resolver_that_hangs_is_a_timeout() {
        AddressPolicy off;
        off.parse("Off");
        Url u;
        parse_url("https://slow.example/", u);
        std::chrono::milliseconds asked{0};
        auto hanging = [&asked](const std::string&, std::chrono::milliseconds t, std::vector<IpAddr>&) {
            asked = t;
            return Resolved::timed_out;
        };
        std::string detail;
        CPPUNIT_ASSERT_EQUAL(std::string(kTargetResolveTimeout), check_target(u, off, nullptr, &detail, hanging));
        CPPUNIT_ASSERT_EQUAL(std::string("host 'slow.example'"), detail);
        CPPUNIT_ASSERT(asked == kResolveTimeout);
        CPPUNIT_ASSERT(kResolveTimeout <= std::chrono::milliseconds(2000));
    }

    // The real getaddrinfo_a path against a name server that never answers: a UDP socket on
    // 127.x.y.53:53 that nobody reads, made the only name server of a child process through
    // a private mount of /etc/resolv.conf (needs root; without it only localhost is checked).
    // The child first resolves localhost (/etc/hosts): that proves lookups complete there, so
    // the timeout that follows is the name server's doing.
    void real_resolution_is_bounded() {
        int code = 4;
        for (int attempt = 0; attempt < 2 && code == 4; ++attempt) {
            // Fork only once glibc's lookup threads have exited (1 s idle): the child would
            // hand its lookups to an idle thread that does not exist there.
            std::this_thread::sleep_for(std::chrono::milliseconds(1500 + 1500 * attempt));
            pid_t pid = fork();
            CPPUNIT_ASSERT(pid >= 0);
            if (pid == 0) _exit(hang_child());
            int st = 0;
            waitpid(pid, &st, 0);
            CPPUNIT_ASSERT(WIFEXITED(st));
            code = WEXITSTATUS(st);
        }
        std::vector<IpAddr> out;
        CPPUNIT_ASSERT(resolve_host("localhost", std::chrono::milliseconds(2000), out) == Resolved::ok);
        CPPUNIT_ASSERT(!out.empty());
        if (code == 3) {
            std::fprintf(stderr, "target: no root or mount namespace here; the hanging-DNS check did not run\n");
            return;
        }
        CPPUNIT_ASSERT_EQUAL_MESSAGE("1: not a timeout, 2: not within 1 s, 4: localhost failed", 0, code);
    }

    static int hang_child() {
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(53);
        sa.sin_addr.s_addr = htonl((127u << 24) | ((unsigned(getpid()) & 0xffffu) << 8) | 53u);
        char ip[INET_ADDRSTRLEN] = {};
        if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
            !inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip))
            return 3;
        char path[] = "/tmp/wh-resolv-XXXXXX";
        int tmp = mkstemp(path);
        if (tmp < 0) return 3;
        close(tmp);
        std::ofstream(path) << "nameserver " << ip << "\noptions timeout:5 attempts:2\n";
        bool isolated = unshare(CLONE_NEWNS) == 0 && mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
                        mount(path, "/etc/resolv.conf", nullptr, MS_BIND, nullptr) == 0;
        unlink(path);
        if (!isolated) return 3;
        std::vector<IpAddr> out;
        if (resolve_host("localhost", std::chrono::milliseconds(3000), out) != Resolved::ok) return 4;
        auto t0 = std::chrono::steady_clock::now();
        Resolved r = resolve_host("hangs.example.com", std::chrono::milliseconds(300), out);
        auto took = std::chrono::steady_clock::now() - t0;
        if (r != Resolved::timed_out) return 1;
        return took < std::chrono::seconds(1) ? 0 : 2;
    }
};

CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(TargetTest, "target");
