/* stallfs: a FUSE file system over a directory whose writes stall on demand.
 *
 *   stallfs BACKING MOUNTPOINT [fuse options]
 *
 * Every operation passes through to BACKING, except that while stalled
 * (after SIGUSR1) write and fsync requests wait until SIGUSR2 releases
 * them; lookups, opens, renames and reads go on. SIGHUP reads a byte
 * budget from BACKING/../stall-budget: writes go on until that many bytes
 * are written (the one that crosses it is cut short, mid-line), then it
 * stalls; -1 lifts the budget; -2 fails the held and later writes with EIO
 * (the disk gone: a process killed mid-write can exit, its io_uring waits
 * for the write). A disk filling up mid-report, or a node that goes down
 * between two lines, as a test needs it. This is a disk that
 * stops accepting data, as a test of the agent's loop needs one: a
 * throttled loop device does not stall buffered writes, device-mapper is
 * not available here, and FUSE passes every write(2) to this process. */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 31
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static char backing[PATH_MAX];
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_open = PTHREAD_COND_INITIALIZER;
static int stalled;
static unsigned long held;        /* requests that waited at the gate */
static long long budget = -1;     /* bytes written before stalling; -1: no budget */
static int failing;               /* budget -2: the disk is gone, writes fail with EIO */

static void real(const char *path, char out[PATH_MAX])
{
	snprintf(out, PATH_MAX, "%s%s", backing, path);
}

static void gate(void)
{
	pthread_mutex_lock(&gate_lock);
	if (stalled)
		held++;
	while (stalled)
		pthread_cond_wait(&gate_open, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

/* SIGUSR1 stalls, SIGUSR2 releases: taken by this thread alone (sigwait), so
 * the gate is handled with ordinary locks, not in a signal handler */
static void *signals(void *arg)
{
	sigset_t *set = arg;
	int sig;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		pthread_mutex_lock(&gate_lock);
		if (sig == SIGHUP) {
			char file[PATH_MAX + 32];
			FILE *f;

			snprintf(file, sizeof(file), "%s/../stall-budget", backing);
			f = fopen(file, "r");
			if (!f || fscanf(f, "%lld", &budget) != 1)
				budget = -1;
			if (f)
				fclose(f);
			fprintf(stderr, "stallfs: budget %lld bytes\n", budget);
			failing = budget == -2;
			if (failing) {
				/* what waits at the gate fails now, as later writes do */
				budget = -1;
				stalled = 0;
				pthread_cond_broadcast(&gate_open);
			}
			pthread_mutex_unlock(&gate_lock);
			continue;
		}
		stalled = sig == SIGUSR1;
		if (!stalled)
			pthread_cond_broadcast(&gate_open);
		fprintf(stderr, "stallfs: %s (%lu requests held so far)\n", stalled ? "stalled" : "released", held);
		pthread_mutex_unlock(&gate_lock);
	}
	return NULL;
}

static int s_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	char p[PATH_MAX];

	if (fi)
		return fstat((int)fi->fh, st) < 0 ? -errno : 0;
	real(path, p);
	return lstat(p, st) < 0 ? -errno : 0;
}

static int s_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
		     enum fuse_readdir_flags flags)
{
	char p[PATH_MAX];
	struct dirent *de;
	DIR *d;

	real(path, p);
	d = opendir(p);
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		fill(buf, de->d_name, NULL, 0, 0);
	closedir(d);
	return 0;
}

static int s_open(const char *path, struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	int fd;

	real(path, p);
	fd = open(p, fi->flags & ~O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	return 0;
}

static int s_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	int fd;

	real(path, p);
	fd = open(p, fi->flags & ~O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	return 0;
}

static int s_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	ssize_t n = pread((int)fi->fh, buf, size, off);

	return n < 0 ? -errno : (int)n;
}

static int s_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	ssize_t n;

	gate();
	pthread_mutex_lock(&gate_lock);
	if (failing) {
		pthread_mutex_unlock(&gate_lock);
		return -EIO;
	}
	if (budget >= 0 && (long long)size >= budget) {
		/* the write that spends the budget is cut short; the next ones wait */
		size = (size_t)budget;
		budget = -1;
		stalled = 1;
		fprintf(stderr, "stallfs: budget spent, %zu bytes of this write taken, stalled\n", size);
	} else if (budget >= 0) {
		budget -= (long long)size;
	}
	pthread_mutex_unlock(&gate_lock);
	if (size == 0) {
		gate();
		return failing ? -EIO : 0;
	}
	n = pwrite((int)fi->fh, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

static int s_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	gate();
	if (failing)
		return -EIO;
	return (datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh)) < 0 ? -errno : 0;
}

static int s_release(const char *path, struct fuse_file_info *fi)
{
	close((int)fi->fh);
	return 0;
}

static int s_opendir(const char *path, struct fuse_file_info *fi)
{
	return 0;
}

static int s_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
	gate();
	return 0;
}

#define PATH_OP(name, call)                         \
	static int name(const char *path)           \
	{                                           \
		char p[PATH_MAX];                   \
                                                    \
		real(path, p);                      \
		return call < 0 ? -errno : 0;       \
	}

PATH_OP(s_unlink, unlink(p))
PATH_OP(s_rmdir, rmdir(p))

static int s_mkdir(const char *path, mode_t mode)
{
	char p[PATH_MAX];

	real(path, p);
	return mkdir(p, mode) < 0 ? -errno : 0;
}

static int s_rename(const char *from, const char *to, unsigned int flags)
{
	char a[PATH_MAX], b[PATH_MAX];

	real(from, a);
	real(to, b);
	return renameat2(AT_FDCWD, a, AT_FDCWD, b, flags) < 0 ? -errno : 0;
}

static int s_symlink(const char *target, const char *path)
{
	char p[PATH_MAX];

	real(path, p);
	return symlink(target, p) < 0 ? -errno : 0;
}

static int s_readlink(const char *path, char *buf, size_t size)
{
	char p[PATH_MAX];
	ssize_t n;

	real(path, p);
	n = readlink(p, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int s_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	char p[PATH_MAX];

	real(path, p);
	return chmod(p, mode) < 0 ? -errno : 0;
}

static int s_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	char p[PATH_MAX];

	if (fi)
		return ftruncate((int)fi->fh, size) < 0 ? -errno : 0;
	real(path, p);
	return truncate(p, size) < 0 ? -errno : 0;
}

static int s_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	char p[PATH_MAX];

	real(path, p);
	return utimensat(AT_FDCWD, p, tv, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static int s_statfs(const char *path, struct statvfs *st)
{
	return statvfs(backing, st) < 0 ? -errno : 0;
}

static const struct fuse_operations ops = {
	.getattr = s_getattr,
	.readdir = s_readdir,
	.opendir = s_opendir,
	.open = s_open,
	.create = s_create,
	.read = s_read,
	.write = s_write,
	.fsync = s_fsync,
	.fsyncdir = s_fsyncdir,
	.release = s_release,
	.unlink = s_unlink,
	.rmdir = s_rmdir,
	.mkdir = s_mkdir,
	.rename = s_rename,
	.symlink = s_symlink,
	.readlink = s_readlink,
	.chmod = s_chmod,
	.truncate = s_truncate,
	.utimens = s_utimens,
	.statfs = s_statfs,
};

int main(int argc, char **argv)
{
	static sigset_t set;
	pthread_t t;

	if (argc < 3 || !realpath(argv[1], backing)) {
		fprintf(stderr, "usage: stallfs BACKING MOUNTPOINT [fuse options]\n");
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread fuse starts inherits it */
	pthread_create(&t, NULL, signals, &set);
	argv[1] = argv[0];
	return fuse_main(argc - 1, argv + 1, &ops, NULL);
}
