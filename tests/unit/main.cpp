// CppUnit runner: "unit_tests" runs every suite, "unit_tests NAME" one named suite.
#include <cppunit/CompilerOutputter.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <cppunit/ui/text/TestRunner.h>

int main(int argc, char** argv) {
    CppUnit::TextUi::TestRunner runner;
    if (argc > 1)
        runner.addTest(CppUnit::TestFactoryRegistry::getRegistry(argv[1]).makeTest());
    else
        for (const char* suite : WEBHOOK_UNIT_SUITES)
            runner.addTest(CppUnit::TestFactoryRegistry::getRegistry(suite).makeTest());
    runner.setOutputter(new CppUnit::CompilerOutputter(&runner.result(), std::cerr));
    return runner.run() ? 0 : 1;
}
