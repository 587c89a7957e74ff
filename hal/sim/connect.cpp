#include "hal/sim/connect.h"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hal/error.h"

namespace stopline::hal::sim {

int connectUnix(const std::string &path, const std::string &what)
{
    sockaddr_un addr{};
    if (path.empty())
        throw HalError(what + ": no simulator socket configured");
    if (path.size() >= sizeof(addr.sun_path))
        throw HalError(what + ": socket path '" + path + "' is too long");
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw HalError(what + ": socket: " + std::strerror(errno));
    if (::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) < 0) {
        int err = errno;
        ::close(fd);
        throw HalError(what + ": cannot connect to simulator socket '" + path +
                       "': " + std::strerror(err) +
                       (err == ENOENT || err == ECONNREFUSED ? " (is stopline-sim running?)" : ""));
    }
    return fd;
}

} /* namespace stopline::hal::sim */
