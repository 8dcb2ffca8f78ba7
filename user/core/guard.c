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
#include <sys/file.h>
#include <sys/pidfd.h>
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

/*
 * The guard holds an flock on its pid file for as long as it lives, so the file's PID is
 * the guard's only while the lock is held: a guard killed outright leaves a file whose
 * PID may since belong to anyone. The PID is pinned with a pidfd before the lock is
 * tested, and signalled through that pidfd, so what is signalled is the process that
 * held the PID while the lock showed a live guard. Callers hold the pin lock, so no
 * other guard starts meanwhile.
 */
static void stop_guard(void)
{
	char path[256];
	int fd, pidfd = -1, pid;
	char buf[32];
	ssize_t n;

	guard_file("pid", path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	pid = atoi(buf);
	if (pid > 1)
		pidfd = pidfd_open(pid, 0);
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		/* No guard holds it: a stale file, its PID nobody of ours. */
		pr_debug("rollback guard: %s is stale (pid %d not a guard)", path, pid);
	} else if (pidfd >= 0 && pidfd_send_signal(pidfd, SIGTERM, NULL, 0)) {
		pr_debug("rollback guard: signal pid %d: %s", pid, strerror(errno));
	}
	if (pidfd >= 0)
		close(pidfd);
	close(fd);
	unlink(path);
}

void guard_format_time(long long t, char *buf, size_t len)
{
	time_t tt = t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, len, "%lld", t);
}

/* The log line is for a person reading the file after the fact: a readable UTC time. */
static void guard_log(const char *what, const char *detail)
{
	char path[256], when[40];
	FILE *log;

	guard_file("log", path, sizeof(path));
	log = fopen(path, "ae");
	if (!log)
		return;
	guard_format_time(time(NULL), when, sizeof(when));
	fprintf(log, "%s: %s: not confirmed in time: %s%s\n", when, pin_path, what, detail);
	fclose(log);
}

int guard_pending(struct guard_pending *g)
{
	char path[256], buf[64];
	int fd, pid = 0;
	long long deadline = 0;
	ssize_t n;

	*g = (struct guard_pending){};
	guard_file("rollback", g->rollback, sizeof(g->rollback));
	if (access(g->rollback, F_OK))
		return 0;
	guard_file("pid", path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	if (sscanf(buf, "%d %lld", &pid, &deadline) < 1)
		pid = 0;
	/* The pid is the guard's only while it holds the file's lock (see stop_guard). */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		flock(fd, LOCK_UN);
		pid = 0;
	}
	close(fd);
	g->pid = pid;
	g->deadline = deadline;
	return 1;
}

int guard_roll_back(struct pins *p, struct parse_error *perr)
{
	struct policy_doc doc;
	char path[256];
	int err;

	guard_file("rollback", path, sizeof(path));
	if (access(path, F_OK))
		return -ENOENT; /* confirmed meanwhile */
	policy_init(&doc);
	err = policy_parse_file(path, &doc, perr);
	if (!err)
		err = policy_apply(p, &doc, true, perr);
	if (!err)
		unlink(path);
	policy_free(&doc);
	return err;
}

/* In the guard: restore the rollback point if it is still there, under the pin lock. */
static void roll_back(void)
{
	struct parse_error perr = {};
	char path[256];
	struct pins p;
	int err;

	err = pins_open(&p, pin_path, true);
	if (err) {
		/* Detached meanwhile: nothing to roll back to, nor any point keeping it. */
		guard_log("no instance to roll back: ", strerror(-err));
		guard_file("rollback", path, sizeof(path));
		unlink(path);
		return;
	}
	err = guard_roll_back(&p, &perr);
	if (err && err != -ENOENT)
		guard_log("rollback failed: ", perr.msg[0] ? perr.msg : strerror(-err));
	else if (!err)
		guard_log("rolled back to the previous policy", "");
	pins_close(&p);
}

/* Removes the pid file FD was opened as, unless a newer guard's has taken its name. */
static void unlink_own(const char *path, int fd)
{
	struct stat mine, named;

	if (!fstat(fd, &mine) && !stat(path, &named) && mine.st_ino == named.st_ino &&
	    mine.st_dev == named.st_dev)
		unlink(path);
}

int guard_arm(__u64 timeout_ns)
{
	struct timespec ts = { .tv_sec = timeout_ns / 1000000000ULL,
			       .tv_nsec = timeout_ns % 1000000000ULL };
	const char *fail = getenv("SLUICE_TEST_GUARD_ARM_FAIL");
	char path[256], pidbuf[48];
	int fd, status, ready[2];
	pid_t pid;

	stop_guard();
	/* Tests make arming fail here, to see restore fail closed. */
	if (fail && *fail)
		return -EIO;
	guard_file("pid", path, sizeof(path));
	if (pipe2(ready, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(ready[0]);
		close(ready[1]);
		return -errno;
	}
	if (pid > 0) {
		char ok = 0;

		close(ready[1]);
		/* The guard says when its pid file is written and locked, so a confirm right
		 * after finds it; EOF without that byte is a guard that did not start. */
		if (read(ready[0], &ok, 1) != 1)
			ok = 0;
		close(ready[0]);
		waitpid(pid, &status, 0);
		return ok == 1 ? 0 : -ECHILD;
	}
	/* Child: a new session, then a grandchild that outlives the SSH session. */
	close(ready[0]);
	if (setsid() < 0)
		_exit(1);
	signal(SIGHUP, SIG_IGN);
	pid = fork();
	if (pid < 0)
		_exit(1);
	if (pid > 0)
		_exit(0);
	/* The guard. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB))
		_exit(1);
	/* The pid, then the deadline that status shows. */
	snprintf(pidbuf, sizeof(pidbuf), "%d %lld\n", (int)getpid(),
		 (long long)time(NULL) + (long long)((timeout_ns + 999999999ULL) / 1000000000ULL));
	if (write(fd, pidbuf, strlen(pidbuf)) != (ssize_t)strlen(pidbuf)) {
		unlink_own(path, fd);
		_exit(1);
	}
	/*
	 * The inherited descriptors include the pin directory and its flock: let go before
	 * saying ready, so the restore's unlock is not held up by the guard.
	 */
	{
		unsigned int lo = fd < ready[1] ? fd : ready[1], hi = fd ^ ready[1] ^ lo;

		/* Ranges that come out empty fail harmlessly. */
		close_range(STDERR_FILENO + 1, lo - 1, 0);
		close_range(lo + 1, hi - 1, 0);
		close_range(hi + 1, ~0U, 0);
	}
	if (write(ready[1], "\1", 1) != 1) {
		unlink_own(path, fd);
		_exit(1);
	}
	close(ready[1]);
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
	unlink_own(path, fd);
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
