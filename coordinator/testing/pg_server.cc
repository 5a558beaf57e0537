#include "coordinator/testing/pg_server.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "coordinator/pg_connection.h"
#include "tools/base/atomic_file.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator::testing {

namespace {

constexpr char kBin[] = "/usr/lib/postgresql/15/bin/";

// Runs `argv` to completion in `dir` (as user postgres when we are root), its
// output appended to `dir`/commands.log. Blocking.
absl::Status Run(const std::string& dir, std::vector<std::string> argv) {
  if (geteuid() == 0) argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", "postgres", "--"});
  const std::string log = dir + "/commands.log";
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    if (chdir(dir.c_str()) != 0) _exit(126);  // The caller's cwd may be closed to postgres.
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  std::string output = ReadFile(log).value_or("");
  if (output.size() > 4000) output = output.substr(output.size() - 4000);
  std::string server_log = ReadFile(dir + "/server.log").value_or("");
  if (server_log.size() > 4000) server_log = server_log.substr(server_log.size() - 4000);
  return absl::InternalError(absl::StrCat(argv[geteuid() == 0 ? 4 : 0], " failed (status ", status,
                                          "):\n", output, "\nserver log:\n", server_log));
}

}  // namespace

bool PgServer::Installed() {
  for (const char* b : {"initdb", "pg_ctl", "postgres"}) {
    if (access(absl::StrCat(kBin, b).c_str(), X_OK) != 0) return false;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<PgServer>> PgServer::Start() {
  if (!Installed()) return absl::FailedPreconditionError(kMissing);
  char templ[] = "/tmp/fedtiny-pg-XXXXXX";
  if (mkdtemp(templ) == nullptr) return absl::InternalError("mkdtemp in /tmp failed");
  std::unique_ptr<PgServer> server(new PgServer(templ));
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr) {
      return absl::FailedPreconditionError(
          "running as root, and there is no `postgres` user to run PostgreSQL as "
          "(postgresql-common creates it)");
    }
    if (chown(templ, pw->pw_uid, pw->pw_gid) != 0) return absl::InternalError("chown failed");
  }
  const std::string data = server->dir_ + "/data";
  RETURN_IF_ERROR(Run(server->dir_, {absl::StrCat(kBin, "initdb"), "-D", data, "-U", "postgres",
                                     "--auth=trust", "--no-locale", "-E", "UTF8", "--no-sync"}));
  const std::string conf = absl::StrCat(
      "\n# fedtiny's throwaway test server: Unix socket only, durable.\n",
      "listen_addresses = ''\n", "unix_socket_directories = '", server->dir_, "'\n",
      "fsync = on\n", "shared_buffers = 16MB\n", "max_connections = 60\n");
  RETURN_IF_ERROR(Run(server->dir_, {"/bin/sh", "-c",
                                     absl::StrCat("cat >> ", data, "/postgresql.conf <<'EOF'", conf,
                                                  "EOF\n")}));
  RETURN_IF_ERROR(server->Ctl("start"));
  return server;
}

absl::Status PgServer::Ctl(const std::string& action) {
  std::vector<std::string> argv = {absl::StrCat(kBin, "pg_ctl"), action, "-D", dir_ + "/data",
                                   "-w", "-t", "60"};
  if (action == "start") argv.insert(argv.end(), {"-l", dir_ + "/server.log"});
  if (action == "stop") argv.insert(argv.end(), {"-m", "fast"});
  RETURN_IF_ERROR(Run(dir_, argv));
  running_ = action == "start";
  return absl::OkStatus();
}

absl::Status PgServer::Stop() { return Ctl("stop"); }
absl::Status PgServer::Restart() { return Ctl("start"); }

PgServer::~PgServer() {
  if (running_) (void)Stop();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string PgServer::ConnInfo(const std::string& name) const {
  return absl::StrCat("host=", dir_, " dbname=", name, " user=postgres");
}

absl::StatusOr<std::string> PgServer::CreateDatabase(const std::string& name) {
  for (char c : name) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_') {
      return absl::InvalidArgumentError(absl::StrCat("bad database name ", name));
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> admin, PgConnection::Connect(ConnInfo("postgres")));
  // An identifier cannot be a parameter; `name` was checked above.
  RETURN_IF_ERROR(admin->Exec(absl::StrCat("CREATE DATABASE ", name)).status());
  return ConnInfo(name);
}

}  // namespace fedtiny::coordinator::testing
