// CppUnit runner: "unit_tests" runs every suite, "unit_tests NAME" one named suite.
// A suite with no test fails the run: CppUnit hands out an empty suite for any name nobody
// registered, so a test file whose registration name differs from its file name (its ctest
// test) would otherwise pass without running anything.
#include <cppunit/CompilerOutputter.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <cppunit/ui/text/TestRunner.h>

#include <iostream>
#include <vector>

namespace {
// The named suite's tests, or nullptr (with the reason on stderr) when it has none.
CppUnit::Test* suite_tests(const char* name) {
    CppUnit::Test* test = CppUnit::TestFactoryRegistry::getRegistry(name).makeTest();
    if (test->countTestCases() > 0) return test;
    delete test;
    std::cerr << "unit_tests: suite '" << name << "' has no tests: is tests/unit/test_" << name
              << ".cpp registered with CPPUNIT_TEST_SUITE_NAMED_REGISTRATION(Class, \"" << name
              << "\")?\n";
    return nullptr;
}
}  // namespace

int main(int argc, char** argv) {
    std::vector<const char*> names;
    if (argc > 1)
        names.assign(argv + 1, argv + argc);
    else
        for (const char* suite : WEBHOOK_UNIT_SUITES) names.push_back(suite);
    CppUnit::TextUi::TestRunner runner;
    bool empty = false;
    for (const char* name : names) {
        if (CppUnit::Test* test = suite_tests(name))
            runner.addTest(test);
        else
            empty = true;
    }
    if (empty) return 1;
    runner.setOutputter(new CppUnit::CompilerOutputter(&runner.result(), std::cerr));
    return runner.run() ? 0 : 1;
}
