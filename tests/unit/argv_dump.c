/* argv_dump.c - a test helper the command-runner tests spawn: writes its argv
 * (NUL-separated) to the file named by argv[1], and its signal mask and
 * ignored signals to argv[1].sig, so a test sees exactly what it was given.
 * "--cat" copies stdin to stdout, "--exit=N" exits with N, "--say" prints a
 * line on stdout and one on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  if (argc < 2) return 100;
  FILE* f = fopen(argv[1], "wb");
  if (!f) return 101;
  for (int i = 0; i < argc; ++i) fwrite(argv[i], 1, strlen(argv[i]) + 1, f);
  fclose(f);
  char sig_path[4096];
  snprintf(sig_path, sizeof sig_path, "%s.sig", argv[1]);
  FILE* st = fopen("/proc/self/status", "r");
  FILE* sig = fopen(sig_path, "w");
  char line[512];
  while (st && sig && fgets(line, sizeof line, st))
    if (!strncmp(line, "SigBlk:", 7) || !strncmp(line, "SigIgn:", 7)) fputs(line, sig);
  if (st) fclose(st);
  if (sig) fclose(sig);
  int code = 0;
  for (int i = 2; i < argc; ++i) {
    if (!strcmp(argv[i], "--cat")) {
      int c;
      while ((c = getchar()) != EOF) putchar(c);
    } else if (!strcmp(argv[i], "--say")) {
      printf("hello on stdout\n");
      fflush(stdout);
      fprintf(stderr, "hello on stderr\n");
    } else if (!strncmp(argv[i], "--exit=", 7)) {
      code = atoi(argv[i] + 7);
    }
  }
  return code;
}
