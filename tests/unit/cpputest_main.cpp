#include <CppUTest/CommandLineTestRunner.h>
#include <CppUTest/MemoryLeakWarningPlugin.h>

int main(int argc, char **argv)
{
    /* protobuf, OpenSSL and Asio allocate process-lifetime state lazily inside the
     * first test that touches them, which CppUTest's per-test leak check reports as a
     * leak. Leaks are hunted with ASan/LeakSanitizer builds instead. */
    MemoryLeakWarningPlugin::turnOffNewDeleteOverloads();
    return CommandLineTestRunner::RunAllTests(argc, argv);
}
