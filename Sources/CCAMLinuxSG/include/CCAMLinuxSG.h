int ccamlinuxsg_placeholder(void);
