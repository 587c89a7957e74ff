/* stoplined: the roadside capture controller. Thin: parse the command line, load and
 * check the configuration, run the daemon (firmware/stoplined/daemon.h). */

#include <cstdio>
#include <iostream>
#include <string>

#include <opencv2/core.hpp>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "evidence/keys.h"
#include "firmware/console/password.h"
#include "firmware/stoplined/daemon.h"
#include "firmware/stoplined/daemon_config.h"
#include "firmware/stoplined/log.h"
#include "hal/error.h"

using namespace stopline::firmware;

namespace {

std::string readSecret(const char *prompt)
{
    std::string line;
    if (isatty(STDIN_FILENO))
        std::cerr << prompt;
    std::getline(std::cin, line);
    return line;
}

} /* namespace */

int main(int argc, char **argv)
{
    CLI::App app{"stoplined: roadside capture controller for automated traffic enforcement"};
    std::string configPath = "/etc/stopline/stoplined.toml";
    bool checkOnly = false, hash = false, version = false;
    std::string logLevel;
    app.add_option("-c,--config", configPath, "configuration file (TOML)");
    app.add_flag("--check-config", checkOnly,
                 "check the configuration (and the state folder's overrides), print every "
                 "problem as FILE:LINE: KEY: MESSAGE, exit 1 if there is any");
    app.add_flag("--hash-password", hash,
                 "read a console password on stdin, print its hash for [[console.users]]");
    app.add_option("--log-level", logLevel,
                   "error, warning, notice, info or debug (overrides "
                   "log.level)");
    app.add_flag("--version", version, "print the software version");
    CLI11_PARSE(app, argc, argv);

    if (version) {
        std::cout << "stoplined " << softwareVersion() << "\n";
        return 0;
    }
    if (hash) {
        std::string pw = readSecret("password: ");
        if (pw.size() < 8) {
            std::cerr << "stoplined: a console password needs at least 8 characters\n";
            return 2;
        }
        std::cout << hashPassword(pw) << "\n";
        return 0;
    }

    LoadResult loaded = loadConfig(configPath);
    if (checkOnly) {
        for (const ConfigError &e : loaded.errors)
            std::cerr << e.text() << "\n";
        if (!loaded.errors.empty()) {
            std::cerr << configPath << ": " << loaded.errors.size()
                      << (loaded.errors.size() == 1 ? " problem" : " problems") << "\n";
            return 1;
        }
        std::cout << configPath << ": ok (config hash "
                  << configHash(loaded.loaded->effectiveText()).substr(0, 16) << ")\n";
        return 0;
    }

    Logger log;
    if (!loaded.errors.empty()) {
        for (const ConfigError &e : loaded.errors)
            log.error("config: " + e.text());
        log.error("refusing to start with an invalid configuration");
        return 1;
    }
    if (!logLevel.empty()) {
        auto level = parseLogLevel(logLevel);
        if (!level) {
            log.error("--log-level: '" + logLevel + "' is not error, warning, notice, info, debug");
            return 2;
        }
        loaded.loaded->config.log.level = logLevel;
    }
    /* Evidence is built on the worker pool; OpenCV's own threads would only compete. */
    cv::setNumThreads(1);
    try {
        Daemon daemon(std::move(loaded.loaded), &log);
        return daemon.run();
    } catch (const stopline::hal::HalError &e) {
        log.error(std::string("device: ") + e.what());
    } catch (const stopline::evidence::KeyError &e) {
        log.error(std::string("key: ") + e.what());
    } catch (const std::exception &e) {
        log.error(std::string("cannot run: ") + e.what());
    }
    return 1;
}
