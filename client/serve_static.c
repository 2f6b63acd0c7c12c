/*-------------------------------------------------------------------------
 * serve_static.c
 *	  The dashboard's files: where they are (the `sync_dashboard` directory
 *	  of the installation's share directory, found from the binary's own
 *	  path as PostgreSQL's programs find theirs, or --dashboard DIR), and
 *	  sending one of them.
 *
 * Only a plain file name ever reaches open(): http_static_name_ok() takes
 * letters, digits, '.', '_' and '-', no leading dot, no "..", so no path
 * leaves the directory; and only the types http_content_type() knows are
 * sent.  The directory itself is the administrator's: a symbolic link
 * placed in it (a packager's shared copy of the chart library) is
 * followed.
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_params.h"
#include "serve.h"

/*
 * <share>/sync_dashboard, share being where this installation keeps its
 * share directory relative to the binary (so a relocated one works).
 */
bool
serve_dashboard_dir(const char *argv0, char *dir, size_t dirlen)
{
	char		exec_path[MAXPGPATH];
	char		share_path[MAXPGPATH];

	if (find_my_exec(argv0, exec_path) < 0)
		return false;
	get_share_path(exec_path, share_path);
	snprintf(dir, dirlen, "%s/sync_dashboard", share_path);
	return true;
}

bool
serve_dashboard_present(const char *dir)
{
	char		path[MAXPGPATH];
	struct stat st;

	snprintf(path, sizeof(path), "%s/index.html", dir);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* name: already checked by http_static_name_ok() */
enum MHD_Result
serve_static(Serve *srv, struct MHD_Connection *conn, const char *name)
{
	const char *type = http_content_type(name);
	char		path[MAXPGPATH];
	struct stat st;
	struct MHD_Response *r;
	enum MHD_Result ret;
	int			fd;

	if (type == NULL)
		return serve_reply_error(conn, 404, "not found", NULL);
	if (snprintf(path, sizeof(path), "%s/%s", srv->dashboard_dir, name) >= (int) sizeof(path))
		return serve_reply_error(conn, 404, "not found", NULL);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)))
	{
		close(fd);
		fd = -1;
	}
	if (fd < 0)
	{
		char		msg[MAXPGPATH + 128];

		if (strcmp(name, "index.html") != 0)
			return serve_reply_error(conn, 404, "not found", NULL);
		/* where it looked, so that whoever installed it can tell why */
		snprintf(msg, sizeof(msg), "the dashboard is not installed: no index.html in %s "
				 "(pg_sync serve --dashboard DIR names another directory)", srv->dashboard_dir);
		return serve_reply_error(conn, 404, msg, NULL);
	}
	/* libmicrohttpd reads the file as it sends it, and closes fd */
	r = MHD_create_response_from_fd64((uint64_t) st.st_size, fd);
	if (r == NULL)
	{
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	ret = MHD_queue_response(conn, 200, r);
	MHD_destroy_response(r);
	return ret;
}
