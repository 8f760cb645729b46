/* Exec load: `execloop SECONDS WORKERS` forks and execs /bin/true in a loop from
 * WORKERS processes for SECONDS and prints the total execs per second. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2.0, t0;
	int workers = argc > 2 ? atoi(argv[2]) : 2;
	unsigned long *counts = mmap(NULL, sizeof(unsigned long) * (size_t)workers, PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned long total = 0;
	char *const args[] = { "/bin/true", NULL };
	char *const envp[] = { NULL };

	if (counts == MAP_FAILED)
		return 1;
	t0 = now();
	for (int w = 0; w < workers; w++) {
		if (fork() == 0) {
			unsigned long n = 0;

			while (now() - t0 < seconds) {
				pid_t pid = fork();
				int status;

				if (pid == 0) {
					execve(args[0], args, envp);
					_exit(127);
				}
				if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
				    WEXITSTATUS(status) == 0)
					n++;
			}
			counts[w] = n;
			_exit(0);
		}
	}
	while (wait(NULL) > 0)
		;
	for (int w = 0; w < workers; w++)
		total += counts[w];
	printf("%.1f\n", (double)total / (now() - t0));
	return 0;
}
