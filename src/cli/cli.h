/* The `niti` command-line tool: one binary, one file per subcommand (cmd_<name>.c). Each
 * command gets argv with argv[0] = the command name and returns the process exit status:
 * 0 success, 1 failure of what was asked (e.g. a conformance case failed), 2 bad usage or
 * unreadable input. Only the CLI prints and exits; library code returns status codes. */
#ifndef NITI_CLI_H
#define NITI_CLI_H

int niti_cmd_train(int argc, char **argv);
int niti_cmd_eval(int argc, char **argv);
int niti_cmd_info(int argc, char **argv);
int niti_cmd_devices(int argc, char **argv);
int niti_cmd_conformance(int argc, char **argv);
int niti_cmd_bench(int argc, char **argv);
int niti_cmd_plot(int argc, char **argv);

/* Prints "niti: error: <msg>" (and the library's last error if status != 0) to stderr. */
void cli_error(const char *fmt, ...);
/* --device value: the option if given, else $NITI_DEVICE, else NULL (default choice). */
const char *cli_device_spec(const char *opt);

#endif
