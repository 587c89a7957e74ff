/* stopline-keygen: makes an Ed25519 key pair for a device (or the back-office).
 * The private key is written with mode 0600 and never overwritten; the public key
 * carries the device id so it can be enrolled as is. */

#include <ctime>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#include "evidence/keys.h"

using namespace stopline::evidence;

int main(int argc, char **argv)
{
    CLI::App app{"Generate an Ed25519 signing key pair for a stopline device or server."};
    std::string device, outDir = ".", name;
    app.add_option("-d,--device", device, "device id the key signs for (or server id)")->required();
    app.add_option("-o,--out", outDir, "folder to write NAME.key and NAME.pub into");
    app.add_option("-n,--name", name, "file stem (default: the device id)");
    CLI11_PARSE(app, argc, argv);
    if (name.empty())
        name = device;

    std::filesystem::path dir(outDir);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    std::string keyPath = (dir / (name + ".key")).string();
    std::string pubPath = (dir / (name + ".pub")).string();

    char created[32];
    std::time_t now = std::time(nullptr);
    std::strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    try {
        auto key = SigningKey::generate();
        key->writeFiles(keyPath, pubPath, {{"device", device}, {"created", created}});
        std::cout << "key id " << key->keyId() << "\n"
                  << "private " << keyPath << " (mode 0600: keep it on the device)\n"
                  << "public  " << pubPath << " (enrol it in the back-office)\n";
    } catch (const KeyError &e) {
        std::cerr << "stopline-keygen: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
