// CppUnit runner: "unit_tests" runs every suite, "unit_tests NAME…" the named suites.
// An unknown name or a suite with no test fails the run: CppUnit hands out an empty suite for
// any name nobody registered, so a test file whose registration name differs from its ctest
// suite name (tests/CMakeLists.txt) would otherwise pass without running anything.
#include <cppunit/CompilerOutputter.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <cppunit/ui/text/TestRunner.h>

#include <cstring>
#include <iostream>
#include <vector>

namespace {
const char* const kSuites[] = WEBHOOK_UNIT_SUITES;

bool known(const char* name) {
    for (const char* suite : kSuites)
        if (std::strcmp(suite, name) == 0) return true;
    return false;
}

// Adds the named suite's tests to runner; false (with the reason on stderr) when the name is
// unknown or the suite has no test.
bool add_suite(CppUnit::TextUi::TestRunner& runner, const char* name) {
    if (!known(name)) {
        std::cerr << "unit_tests: unknown suite '" << name << "'; the suites are:";
        for (const char* suite : kSuites) std::cerr << ' ' << suite;
        std::cerr << '\n';
        return false;
    }
    CppUnit::Test* test = CppUnit::TestFactoryRegistry::getRegistry(name).makeTest();
    if (test->countTestCases() == 0) {
        delete test;
        std::cerr << "unit_tests: suite '" << name << "' runs no test: does tests/unit/test_" << name
                  << ".cpp register it as CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(Class, \"" << name
                  << "\")?\n";
        return false;
    }
    runner.addTest(test);
    return true;
}
}  // namespace

int main(int argc, char** argv) {
    std::vector<const char*> names(argv + 1, argv + argc);
    if (names.empty()) names.assign(std::begin(kSuites), std::end(kSuites));
    CppUnit::TextUi::TestRunner runner;
    bool ok = true;
    for (const char* name : names) ok = add_suite(runner, name) && ok;
    if (!ok) return 1;
    runner.setOutputter(new CppUnit::CompilerOutputter(&runner.result(), std::cerr));
    return runner.run() ? 0 : 1;
}
