// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include "guard.h"
#include "log.h"
#include "policy.h"

/* One rollback point per pin path: /run/sluice/<hash of the pin path>.{rollback,pid,log} */
static void guard_file(const char *ext, char *buf, size_t len)
{
	char canonical[PATH_MAX];
	const char *dir = realpath(pin_path, canonical) ? canonical : pin_path;
	__u64 h = fnv1a64(dir, strlen(dir), FNV1A64_SEED);

	snprintf(buf, len, "%s/%016llx.%s", GUARD_RUN_DIR, (unsigned long long)h, ext);
}

int guard_save(const struct pins *p)
{
	char path[256], tmp[272];
	struct policy_doc doc;
	FILE *f;
	int err;

	umask(077); /* policies, pids and logs are root's business */
	guard_file("rollback", path, sizeof(path));
	if (access(path, F_OK) == 0)
		return 0; /* the last confirmed policy stays the rollback point */
	if (mkdir(GUARD_RUN_DIR, 0700) && errno != EEXIST)
		return -errno;
	policy_init(&doc);
	err = policy_read(p, &doc);
	if (err)
		goto out;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f) {
		err = -errno;
		goto out;
	}
	fprintf(f, "# rollback point of %s, saved by sluice restore --confirm-within\n", pin_path);
	policy_write(f, &doc);
	if (fflush(f) || fsync(fileno(f)))
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
out:
	policy_free(&doc);
	return err ? err : 1;
}

void guard_discard(void)
{
	char path[256];

	guard_file("rollback", path, sizeof(path));
	unlink(path);
}

static void stop_guard(void)
{
	char path[256];
	FILE *f;
	int pid;

	guard_file("pid", path, sizeof(path));
	f = fopen(path, "re");
	if (!f)
		return;
	if (fscanf(f, "%d", &pid) == 1 && pid > 1)
		kill(pid, SIGTERM);
	fclose(f);
	unlink(path);
}

static void guard_log(const char *what, const char *detail)
{
	char path[256];
	FILE *log;

	guard_file("log", path, sizeof(path));
	log = fopen(path, "ae");
	if (!log)
		return;
	fprintf(log, "%ld: not confirmed in time: %s%s\n", (long)time(NULL), what, detail);
	fclose(log);
}

/* In the guard: restore the rollback point if it is still there, under the pin lock. */
static void roll_back(void)
{
	struct parse_error perr = {};
	struct policy_doc doc;
	char path[256];
	struct pins p;
	int err;

	guard_file("rollback", path, sizeof(path));
	err = pins_open(&p, pin_path, true);
	if (err) {
		/* Detached meanwhile: nothing to roll back to, nor any point keeping it. */
		guard_log("no instance to roll back: ", strerror(-err));
		unlink(path);
		return;
	}
	if (access(path, F_OK) == 0) { /* not confirmed meanwhile */
		policy_init(&doc);
		err = policy_parse_file(path, &doc, &perr);
		if (!err)
			err = policy_apply(&p, &doc, true, &perr);
		if (err)
			guard_log("rollback failed: ", perr.msg[0] ? perr.msg : strerror(-err));
		else
			guard_log("rolled back to the previous policy", "");
		if (!err)
			unlink(path);
		policy_free(&doc);
	}
	pins_close(&p);
}

int guard_arm(__u64 timeout_ns)
{
	struct timespec ts = { .tv_sec = timeout_ns / 1000000000ULL,
			       .tv_nsec = timeout_ns % 1000000000ULL };
	char path[256];
	pid_t pid;
	FILE *f;
	int status;

	stop_guard();
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		waitpid(pid, &status, 0);
		return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
	}
	/* Child: a new session, then a grandchild that outlives the SSH session. */
	if (setsid() < 0)
		_exit(1);
	signal(SIGHUP, SIG_IGN);
	pid = fork();
	if (pid < 0)
		_exit(1);
	if (pid > 0) {
		/* Written before the caller returns, so a confirm right after finds the guard. */
		guard_file("pid", path, sizeof(path));
		f = fopen(path, "we");
		if (!f)
			_exit(1);
		fprintf(f, "%d\n", pid);
		_exit(fclose(f) ? 1 : 0);
	}
	/* The inherited descriptors include the pin directory and its flock: let go. */
	closefrom(STDERR_FILENO + 1);
	guard_file("pid", path, sizeof(path));
	{
		int null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
			if (null > STDERR_FILENO)
				close(null);
		}
	}
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	roll_back();
	unlink(path);
	_exit(0);
}

int guard_confirm(struct pins *p)
{
	char path[256];
	int err;

	err = pins_lock(p, pin_path);
	if (err)
		return err;
	guard_file("rollback", path, sizeof(path));
	err = unlink(path) ? -errno : 0;
	if (!err)
		stop_guard();
	pins_close(p);
	return err;
}
