/*-------------------------------------------------------------------------
 * regress_main.c
 *	  Runs a fuzz target without libFuzzer over saved inputs, as a unit
 *	  test: linked with one test/fuzz/fuzz_*.c (and ASan/UBSan) by
 *	  scripts/test.sh, it feeds each file named (or each file of each
 *	  directory named) to LLVMFuzzerTestOneInput once.
 *
 *	    regress_<target> [-s NAME] PATH...
 *
 * Each input runs in a child process with a time limit, so one crash or
 * stall is one failed test and the others still run.  Prints TAP lines:
 * one per input, or with -s one line NAME for all of them (the seed
 * corpus: hundreds of inputs are one test).  A failure prints the
 * sanitizer's summary and first frames as TAP comments.
 *-------------------------------------------------------------------------
 */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define INPUT_SECONDS 30		/* a stall is a failure, not a hang of the suite */

extern int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int	nfailed = 0;
static int	nrun = 0;

/* The lines of a sanitizer report worth showing, as TAP comments. */
static void
print_report(const char *out)
{
	int			frames = 0;
	const char *line = out;

	while (line && *line)
	{
		const char *nl = strchr(line, '\n');
		int			n = nl ? (int) (nl - line) : (int) strlen(line);

		if (strstr(line, "ERROR:") == line || (strstr(line, "runtime error") && strstr(line, "runtime error") < line + n) ||
			strncmp(line, "SUMMARY", 7) == 0 ||
			(strncmp(line, "    #", 5) == 0 && frames++ < 6))
			printf("#   %.*s\n", n, line);
		line = nl ? nl + 1 : NULL;
	}
}

/* Run one input in a child; true when it neither crashed nor stalled. */
static int
run_one(const char *path, int quiet)
{
	FILE	   *f = fopen(path, "rb");
	uint8_t    *data;
	long		size;
	int			pipefd[2];
	pid_t		pid;
	int			status;
	char	   *out = NULL;
	size_t		outlen = 0;
	char		buf[4096];
	ssize_t		n;
	int			good;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0)
	{
		printf("not ok - %s: cannot read\n", path);
		nfailed++;
		return 0;
	}
	rewind(f);
	data = malloc(size > 0 ? size : 1);
	if (size > 0 && fread(data, 1, size, f) != (size_t) size)
		size = 0;
	fclose(f);
	fflush(stdout);
	if (pipe(pipefd) != 0)
		abort();
	pid = fork();
	if (pid == 0)
	{
		close(pipefd[0]);
		dup2(pipefd[1], STDERR_FILENO);
		alarm(INPUT_SECONDS);
		LLVMFuzzerTestOneInput(data, size);
		_exit(0);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], buf, sizeof(buf))) > 0)
	{
		out = realloc(out, outlen + n + 1);
		memcpy(out + outlen, buf, n);
		outlen += n;
		out[outlen] = '\0';
	}
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	good = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	nrun++;
	if (!good)
		nfailed++;
	if (!quiet || !good)
	{
		printf("%s - %s", good ? "ok" : (quiet ? "#" : "not ok"), path);
		if (WIFSIGNALED(status))
			printf(" (signal %d%s)", WTERMSIG(status), WTERMSIG(status) == SIGALRM ? ": stalled" : "");
		else if (!good)
			printf(" (exit %d)", WEXITSTATUS(status));
		printf("\n");
		if (!good && out)
			print_report(out);
	}
	free(out);
	free(data);
	return good;
}

static void
run_path(const char *path, int quiet)
{
	struct stat st;
	DIR		   *d;
	struct dirent *e;

	if (stat(path, &st) != 0)
		return;					/* no crashes saved for this target */
	if (!S_ISDIR(st.st_mode))
	{
		run_one(path, quiet);
		return;
	}
	if ((d = opendir(path)) == NULL)
		return;
	while ((e = readdir(d)) != NULL)
	{
		char		child[4096];

		if (e->d_name[0] == '.')
			continue;
		snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
		run_one(child, quiet);
	}
	closedir(d);
}

int
main(int argc, char **argv)
{
	const char *summary = NULL;
	int			i = 1;

	if (argc > 2 && strcmp(argv[1], "-s") == 0)
	{
		summary = argv[2];
		i = 3;
	}
	for (; i < argc; i++)
		run_path(argv[i], summary != NULL);
	if (summary)
		printf("%s - %s: %d inputs, %d failed\n", nfailed ? "not ok" : "ok", summary, nrun, nfailed);
	return nfailed ? 1 : 0;
}
