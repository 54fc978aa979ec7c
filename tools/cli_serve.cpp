// fgraph serve: the command line of the HTTP service; everything else is in service/.
#include "service/service.h"
#include "tools/cli.h"
#include "tools/config.h"

namespace fgraph::cli {

void register_serve_commands(CLI::App& app, Cli& cli) {
  auto o = std::make_shared<service::ServiceOptions>();
  CLI::App* serve = app.add_subcommand(
      "serve",
      "Run fgraph as an HTTP service until SIGTERM or SIGINT: runs, uploads, rollback, replay, "
      "the registry, audit, alerts and metrics (README: \"Run it as a service\"). It is the "
      "home's one writer while it runs. Every route but /healthz needs "
      "`Authorization: Bearer TOKEN`: FGRAPH_SERVICE_TOKEN, service.token_file, else a token "
      "generated into $FGRAPH_HOME/service.token (mode 0600)");
  serve->add_option("--listen", o->listen,
                    "Address and port to listen on, HOST:PORT or [V6]:PORT (default "
                    "127.0.0.1:8765; port 0 picks a free one)");
  serve->add_flag("--allow-remote", o->allow_remote,
                  "Allow a --listen address that is not loopback (other machines can connect)");
  serve->add_option("--drops-root", o->drops_root,
                    "Folder that holds the drops runs are started on and files are uploaded to "
                    "(default: the home's path + \"-drops\", e.g. ./.fgraph-drops; not inside the home)");
  serve->add_option("--inbox", o->inbox,
                    "Folder whose new files become drops and runs: files settled for "
                    "service.inbox_settle_s seconds are taken as one drop per sweep and run with "
                    "the configured lane and budget; finished runs' files move to "
                    "DIR/.fgraph/done/RUN_ID/, unreadable ones to DIR/.fgraph/failed/ with a .reason");
  serve->callback([&cli, o] {
    cli.action = [&cli, o]() -> int {
      if (auto st = cli.lock_for_writing(); !st) return report_error(cli, st.error());
      auto config = load_config(cli.globals.home, process_env());
      if (!config) return report_error(cli, config.error());
      o->home = cli.globals.home;
      o->version = FGRAPH_VERSION;
      o->limits.max_upload_bytes = static_cast<std::uint64_t>(config->service.max_upload_bytes);
      o->limits.idle_timeout = std::chrono::milliseconds(config->service.idle_timeout_ms);
      o->token = config->service.token;
      o->alert_webhook = config->service.alert_webhook;
      o->inbox_settle = std::chrono::seconds(config->service.inbox_settle_s);
      o->carrier.poll_initial = std::chrono::seconds(config->service.poll_initial_s);
      o->carrier.poll_max = std::chrono::seconds(config->service.poll_max_s);
      o->carrier.batch_open_alert = std::chrono::hours(config->service.alert_batch_open_hours);
      o->carrier.failed_rows_alert = config->service.alert_failed_rows;
      o->carrier.neo4j_down_alert = std::chrono::minutes(config->service.alert_neo4j_down_minutes);
      o->run = run_settings(*config);
      if (auto st = service::serve(*o, *cli.writer_lock); !st) {
        return report_error(cli, st.error());
      }
      return kExitOk;
    };
  });
}

}  // namespace fgraph::cli
